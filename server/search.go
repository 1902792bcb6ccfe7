package server

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/shoaldb/shoal/index"
	shoalv1 "github.com/shoaldb/shoal/proto/shoal/v1"
)

// searchChunk is how many queries of a batch run between two deadline
// checks: a single Search runs under the call's context down to its disk
// reads (index.SearchContext), but index.SearchBatch takes none, so a
// batch honours its deadline between chunks.
const searchChunk = 32

// searchArgs are the checked common arguments of Search and SearchBatch.
type searchArgs struct {
	k       int
	params  *index.SearchParams
	vectors bool
	tenant  string // the scope's tenant name, "" for none
}

// resolve sets the index's tenant number of the search in c.
func (s *searchArgs) resolve(c *collection) error {
	t, err := tenantNumber(c, s.tenant)
	s.params.Tenant = t
	return err
}

func (a vectorsAPI) searchArgs(ctx context.Context, tenant string, topK uint32, p *shoalv1.SearchParams, f *shoalv1.Filter, expr string, vectors bool) (searchArgs, error) {
	if err := checkTenantName(tenant); err != nil {
		return searchArgs{}, err
	}
	tname, err := scope(ctx, tenant)
	if err != nil {
		return searchArgs{}, err
	}
	switch {
	case topK == 0:
		return searchArgs{}, status.Error(codes.InvalidArgument, "top_k is required (1 or more)")
	case int64(topK) > int64(a.opts.MaxTopK):
		return searchArgs{}, status.Errorf(codes.InvalidArgument, "top_k %d above the server's maximum %d", topK, a.opts.MaxTopK)
	}
	if err := checkSearchParams("params", p); err != nil {
		return searchArgs{}, err
	}
	fe, err := parseFilter(f, expr)
	if err != nil {
		return searchArgs{}, err
	}
	return searchArgs{
		k:       int(topK),
		params:  &index.SearchParams{NProbe: int(p.GetNprobe()), Epsilon: p.GetEpsilon(), Beam: int(p.GetBeam()), Filter: fe},
		vectors: vectors,
		tenant:  tname,
	}, nil
}

func (a vectorsAPI) Search(ctx context.Context, req *shoalv1.SearchRequest) (*shoalv1.SearchResponse, error) {
	args, err := a.searchArgs(ctx, req.GetTenant(), req.GetTopK(), req.GetParams(), req.GetFilter(), req.GetFilterExpr(), req.GetIncludeVectors())
	if err != nil {
		return nil, err
	}
	c, err := a.acquire(req.GetCollection())
	if err != nil {
		return nil, err
	}
	defer c.release()
	if err := args.resolve(c); err != nil {
		return nil, err
	}
	if err := checkVector("query", req.GetQuery(), c.rec.Dim); err != nil {
		return nil, err
	}
	res, err := c.ix.SearchContext(ctx, req.GetQuery(), args.k, args.params)
	if err != nil {
		return nil, indexError(err)
	}
	if err := ctxError(ctx, "the search finished"); err != nil {
		return nil, err
	}
	return hits(c, res, args.vectors)
}

func (a vectorsAPI) SearchBatch(ctx context.Context, req *shoalv1.SearchBatchRequest) (*shoalv1.SearchBatchResponse, error) {
	args, err := a.searchArgs(ctx, req.GetTenant(), req.GetTopK(), req.GetParams(), req.GetFilter(), req.GetFilterExpr(), req.GetIncludeVectors())
	if err != nil {
		return nil, err
	}
	if err := a.checkBatch("queries", len(req.GetQueries())); err != nil {
		return nil, err
	}
	c, err := a.acquire(req.GetCollection())
	if err != nil {
		return nil, err
	}
	defer c.release()
	if err := args.resolve(c); err != nil {
		return nil, err
	}
	qs := make([][]float32, len(req.GetQueries()))
	for i, q := range req.GetQueries() {
		if err := checkVector(fmt.Sprintf("query %d", i), q.GetValues(), c.rec.Dim); err != nil {
			return nil, err
		}
		qs[i] = q.GetValues()
	}
	resp := &shoalv1.SearchBatchResponse{Results: make([]*shoalv1.SearchResponse, 0, len(qs))}
	for lo := 0; lo < len(qs); lo += searchChunk {
		if err := ctxError(ctx, fmt.Sprintf("query %d of %d was searched", lo, len(qs))); err != nil {
			return nil, err
		}
		res, err := c.ix.SearchBatch(qs[lo:min(lo+searchChunk, len(qs))], args.k, args.params)
		if err != nil {
			return nil, indexError(err)
		}
		for _, r := range res {
			h, err := hits(c, r, args.vectors)
			if err != nil {
				return nil, err
			}
			resp.Results = append(resp.Results, h)
		}
	}
	return resp, nil
}

// hits converts the index's results, with their vectors if asked for. A
// hit deleted since the search is returned without values.
func hits(c *collection, res []index.Result, vectors bool) (*shoalv1.SearchResponse, error) {
	out := &shoalv1.SearchResponse{Hits: make([]*shoalv1.Hit, len(res))}
	for i, r := range res {
		h := &shoalv1.Hit{Id: r.ID, Distance: r.Distance}
		if vectors {
			v, err := c.ix.Get(r.ID)
			if err != nil && !errors.Is(err, index.ErrNotFound) {
				return nil, indexError(err)
			}
			h.Values = v
		}
		out.Hits[i] = h
	}
	return out, nil
}
