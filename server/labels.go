package server

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/shoaldb/shoal/index"
	"github.com/shoaldb/shoal/index/filter"
	shoalv1 "github.com/shoaldb/shoal/proto/shoal/v1"
)

// Labels are the index's uint32 label ids on the wire too: the server
// keeps no name → id map (index/labels.go leaves names to the caller), so
// a filter names labels by their decimal ids ("3 AND NOT 7") and a label
// name in a filter is INVALID_ARGUMENT (filter.ErrUnknownLabel).

// parseFilter returns the label filter of a search: the structured f or
// the text expr (at most one of them set), nil for none.
func parseFilter(f *shoalv1.Filter, expr string) (*filter.Expr, error) {
	structured := len(f.GetAllOf())+len(f.GetAnyOf())+len(f.GetNoneOf()) > 0
	switch {
	case structured && expr != "":
		return nil, status.Error(codes.InvalidArgument, "filter and filter_expr are both set; set at most one")
	case expr != "":
		e, err := filter.Parse(expr, nil)
		if err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "filter_expr %s: %s", clip(expr), clipMessage(err.Error()))
		}
		return e, nil
	case !structured:
		return nil, nil
	}
	var args []*filter.Expr
	for _, l := range f.GetAllOf() {
		id, err := labelID("all_of", l)
		if err != nil {
			return nil, err
		}
		args = append(args, filter.Label(id))
	}
	var anyOf []*filter.Expr
	for _, l := range f.GetAnyOf() {
		id, err := labelID("any_of", l)
		if err != nil {
			return nil, err
		}
		anyOf = append(anyOf, filter.Label(id))
	}
	if len(anyOf) > 0 {
		args = append(args, filter.Or(anyOf...))
	}
	for _, l := range f.GetNoneOf() {
		id, err := labelID("none_of", l)
		if err != nil {
			return nil, err
		}
		args = append(args, filter.Not(filter.Label(id)))
	}
	e := filter.And(args...)
	if err := e.Validate(); err != nil {
		// Our own construction: a flat AND of labels, ORs and NOTs.
		panic(fmt.Sprintf("server: filter built from %v: %v", f, err))
	}
	return e, nil
}

// labelID parses a label of a structured filter: a decimal label id.
func labelID(field, s string) (uint32, error) {
	id, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, status.Errorf(codes.InvalidArgument, "filter.%s label %s: labels are decimal label ids 0..4294967295 (names are not supported)", field, clip(s))
	}
	return uint32(id), nil
}

func (a vectorsAPI) SetLabels(ctx context.Context, req *shoalv1.SetLabelsRequest) (*shoalv1.SetLabelsResponse, error) {
	c, t, tname, err := a.begin(ctx, req.GetTenant(), req.GetCollection(), "vectors", len(req.GetVectors()))
	if err != nil {
		return nil, err
	}
	defer c.release()
	ids := make([]uint64, len(req.GetVectors()))
	labels := make([][]uint32, len(ids))
	seen := make(map[uint64]int, len(ids))
	for i, v := range req.GetVectors() {
		if j, dup := seen[v.GetId()]; dup {
			return nil, status.Errorf(codes.InvalidArgument, "id %d appears twice in the request (vectors %d and %d)", v.GetId(), j, i)
		}
		seen[v.GetId()] = i
		ids[i], labels[i] = v.GetId(), v.GetLabels()
	}
	wdone, err := c.writing()
	if err != nil {
		return nil, err
	}
	defer wdone()
	if t != 0 {
		if err := tenantLabelable(c, t, tname, ids); err != nil {
			return nil, err
		}
	}
	// The last point at which the call may still be refused whole.
	if err := ctxError(ctx, "the labels were set"); err != nil {
		return nil, err
	}
	if err := c.ix.SetLabels(ids, labels); err != nil {
		return nil, indexError(err)
	}
	return &shoalv1.SetLabelsResponse{Updated: uint64(len(ids))}, nil
}

// tenantLabelable checks that tenant t (named tname) owns the vector of
// every id: an id that holds none is NotFound, one of another owner, of
// no owner or merely granted to t is PermissionDenied (telling t that
// it holds a vector, as a refused upsert or delete does). As for
// deletes, ownership changes only by the owner's writes or the admin's.
func tenantLabelable(c *collection, t uint32, tname string, ids []uint64) error {
	for _, id := range ids {
		owner, err := c.ix.Owner(id)
		switch {
		case errors.Is(err, index.ErrNotFound):
			return status.Errorf(codes.NotFound, "id %d holds no vector; no labels were set", id)
		case err != nil:
			return indexError(err)
		case owner != t:
			return status.Errorf(codes.PermissionDenied, "id %d holds a vector tenant %q does not own; no labels were set", id, tname)
		}
	}
	return nil
}
