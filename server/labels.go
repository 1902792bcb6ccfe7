package server

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/shoaldb/shoal/index"
	"github.com/shoaldb/shoal/index/filter"
	shoalv1 "github.com/shoaldb/shoal/proto/shoal/v1"
)

// Labels on the wire are names ("color=red") or decimal ids ("7"),
// resolved through the collection's dictionary (index/labelnames.go): a
// write gives a new name an id, a filter naming a name the collection
// has never seen is INVALID_ARGUMENT (filter.ErrUnknownLabel).

// anyName resolves every name, for checking a filter's syntax before
// the collection is at hand.
func anyName(string) (uint32, bool) { return 0, true }

// checkFilterSyntax checks the filter of a search before its collection
// is acquired: at most one of f and expr, expr well formed, f's labels
// well formed.
func checkFilterSyntax(f *shoalv1.Filter, expr string) error {
	structured := len(f.GetAllOf())+len(f.GetAnyOf())+len(f.GetNoneOf()) > 0
	switch {
	case structured && expr != "":
		return status.Error(codes.InvalidArgument, "filter and filter_expr are both set; set at most one")
	case expr != "":
		if _, err := filter.Parse(expr, anyName); err != nil {
			return status.Errorf(codes.InvalidArgument, "filter_expr %s: %s", clip(expr), clipMessage(err.Error()))
		}
	}
	return nil
}

// parseFilter returns the label filter of a search on c: the structured
// f or the text expr (at most one of them set), nil for none.
func parseFilter(c *collection, f *shoalv1.Filter, expr string) (*filter.Expr, error) {
	if err := checkFilterSyntax(f, expr); err != nil {
		return nil, err
	}
	structured := len(f.GetAllOf())+len(f.GetAnyOf())+len(f.GetNoneOf()) > 0
	switch {
	case expr != "":
		e, err := filter.Parse(expr, c.ix.FilterNames())
		if err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "filter_expr %s: %s", clip(expr), clipMessage(err.Error()))
		}
		return e, nil
	case !structured:
		return nil, nil
	}
	var args []*filter.Expr
	for _, l := range f.GetAllOf() {
		id, err := labelID(c, "all_of", l)
		if err != nil {
			return nil, err
		}
		args = append(args, filter.Label(id))
	}
	var anyOf []*filter.Expr
	for _, l := range f.GetAnyOf() {
		id, err := labelID(c, "any_of", l)
		if err != nil {
			return nil, err
		}
		anyOf = append(anyOf, filter.Label(id))
	}
	if len(anyOf) > 0 {
		args = append(args, filter.Or(anyOf...))
	}
	for _, l := range f.GetNoneOf() {
		id, err := labelID(c, "none_of", l)
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

// labelID resolves a label of a structured filter: a name c knows or a
// decimal label id.
func labelID(c *collection, field, s string) (uint32, error) {
	if id, ok := c.ix.LabelID(s); ok {
		return id, nil
	}
	if err := index.CheckLabel(s); err != nil {
		return 0, status.Errorf(codes.InvalidArgument, "filter.%s label %s: %s", field, clip(s), clipMessage(err.Error()))
	}
	return 0, status.Errorf(codes.InvalidArgument, "filter.%s label %s: %v (the collection has no such label name)", field, clip(s), filter.ErrUnknownLabel)
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
		what := fmt.Sprintf("vector %d (id %d)", i, v.GetId())
		if err := checkLabelStrings(what, v.GetNames()); err != nil {
			return nil, err
		}
		if err := checkReservedLabels(ctx, c, what, v.GetNames(), v.GetLabels()); err != nil {
			return nil, err
		}
	}
	wdone, err := c.writing()
	if err != nil {
		return nil, err
	}
	defer wdone()
	if t != 0 {
		if err := tenantOwns(c, t, tname, ids, "no labels were set"); err != nil {
			return nil, err
		}
	}
	// The last point at which the call may still be refused whole.
	if err := ctxError(ctx, "the labels were set"); err != nil {
		return nil, err
	}
	names := make([][]string, len(ids))
	for i, v := range req.GetVectors() {
		names[i] = v.GetNames()
	}
	named, err := resolveNamed(c, names)
	if err != nil {
		return nil, err
	}
	for i := range named {
		if len(named[i]) > 0 {
			labels[i] = append(slices.Clone(labels[i]), named[i]...)
		}
	}
	// As in SetPayloads: ownership checked again with the write.
	if t != 0 {
		err = c.ix.SetLabelsOwned(t, ids, labels)
	} else {
		err = c.ix.SetLabels(ids, labels)
	}
	if err != nil {
		return nil, indexError(err)
	}
	return &shoalv1.SetLabelsResponse{Updated: uint64(len(ids))}, nil
}

// tenantOwns checks that tenant t (named tname) owns the vector of
// every id: an id that holds none is NotFound, one of another owner, of
// no owner or merely granted to t is PermissionDenied (telling t that
// it holds a vector, as a refused upsert or delete does). As for
// deletes, ownership changes only by the owner's writes or the admin's.
// nothing says what did not happen ("no labels were set").
func tenantOwns(c *collection, t uint32, tname string, ids []uint64, nothing string) error {
	for _, id := range ids {
		owner, err := c.ix.Owner(id)
		switch {
		case errors.Is(err, index.ErrNotFound):
			return status.Errorf(codes.NotFound, "id %d holds no vector; %s", id, nothing)
		case err != nil:
			return indexError(err)
		case owner != t:
			return status.Errorf(codes.PermissionDenied, "id %d holds a vector tenant %q does not own; %s", id, tname, nothing)
		}
	}
	return nil
}
