package server

import (
	"context"
	"errors"
	"fmt"
	"math"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

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
	k        int
	params   *index.SearchParams
	vectors  bool
	payloads bool
	tenant   string // the scope's tenant name, "" for none
	filter   *shoalv1.Filter
	expr     string
	maxBytes int // the response limit, for payloads (responseBudget)
}

// resolve sets the index's tenant number and the label filter of the
// search in c.
func (s *searchArgs) resolve(ctx context.Context, c *collection) error {
	t, err := tenantFor(ctx, c, s.tenant)
	s.params.Tenant = t
	if err != nil {
		return err
	}
	s.params.Filter, err = parseFilter(c, s.filter, s.expr)
	return err
}

// budget returns the response budget of a response of what with
// payloads (nil without: the request bounds it).
func (s *searchArgs) budget(what string) *responseBudget {
	if !s.payloads {
		return nil
	}
	return &responseBudget{left: int64(s.maxBytes), what: what, hint: "lower top_k, split the batch or leave include_payload off"}
}

func (a vectorsAPI) searchArgs(ctx context.Context, tenant string, topK uint32, p *shoalv1.SearchParams, f *shoalv1.Filter, expr string, vectors, payloads bool) (searchArgs, error) {
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
	if err := checkFilterSyntax(f, expr); err != nil {
		return searchArgs{}, err
	}
	return searchArgs{
		k:        int(topK),
		params:   &index.SearchParams{NProbe: int(p.GetNprobe()), Epsilon: p.GetEpsilon(), Beam: int(p.GetBeam())},
		vectors:  vectors,
		payloads: payloads,
		tenant:   tname,
		filter:   f,
		expr:     expr,
		maxBytes: a.opts.MaxResponseBytes,
	}, nil
}

func (a vectorsAPI) Search(ctx context.Context, req *shoalv1.SearchRequest) (*shoalv1.SearchResponse, error) {
	args, err := a.searchArgs(ctx, req.GetTenant(), req.GetTopK(), req.GetParams(), req.GetFilter(), req.GetFilterExpr(), req.GetIncludeVectors(), req.GetIncludePayload())
	if err != nil {
		return nil, err
	}
	if err := a.checkHits(1, args.k); err != nil {
		return nil, err
	}
	c, err := a.acquire(req.GetCollection())
	if err != nil {
		return nil, err
	}
	defer c.release()
	if err := args.resolve(ctx, c); err != nil {
		return nil, err
	}
	if err := CheckVector("query", req.GetQuery(), c.rec.Dim); err != nil {
		return nil, err
	}
	if err := a.checkResponse(fmt.Sprintf("a search of top_k %d%s", args.k, withVectors(args.vectors)), searchBound(1, args.k, c.rec.Dim, args.vectors), "lower top_k, or leave include_vectors off"); err != nil {
		return nil, err
	}
	res, err := c.ix.SearchContext(ctx, req.GetQuery(), args.k, args.params)
	if err != nil {
		return nil, indexError(err)
	}
	if err := ctxError(ctx, "the search finished"); err != nil {
		return nil, err
	}
	return hits(c, res, args.vectors, args.payloads, args.budget(fmt.Sprintf("a search of top_k %d", args.k)))
}

func withVectors(vectors bool) string {
	if vectors {
		return " with vectors"
	}
	return ""
}

// batchArgs checks a SearchBatch or SearchBatchStream request: its
// common search arguments and its number of queries and hits.
func (a vectorsAPI) batchArgs(ctx context.Context, req *shoalv1.SearchBatchRequest) (searchArgs, error) {
	args, err := a.searchArgs(ctx, req.GetTenant(), req.GetTopK(), req.GetParams(), req.GetFilter(), req.GetFilterExpr(), req.GetIncludeVectors(), req.GetIncludePayload())
	if err != nil {
		return searchArgs{}, err
	}
	if err := a.checkBatch("queries", len(req.GetQueries())); err != nil {
		return searchArgs{}, err
	}
	return args, a.checkHits(len(req.GetQueries()), args.k)
}

// batchQueries resolves the batch's tenant in c and checks its queries;
// it returns them.
func batchQueries(ctx context.Context, c *collection, args *searchArgs, req *shoalv1.SearchBatchRequest) ([][]float32, error) {
	if err := args.resolve(ctx, c); err != nil {
		return nil, err
	}
	qs := make([][]float32, len(req.GetQueries()))
	for i, q := range req.GetQueries() {
		if err := CheckVector(fmt.Sprintf("query %d", i), q.GetValues(), c.rec.Dim); err != nil {
			return nil, err
		}
		qs[i] = q.GetValues()
	}
	return qs, nil
}

// searchChunk runs the queries qs[lo:lo+searchChunk] (fewer at the end)
// on c and returns their results; budget (nil for none) counts their
// payloads.
func (s *searchArgs) searchChunk(ctx context.Context, c *collection, qs [][]float32, lo int, budget *responseBudget) ([]*shoalv1.SearchResponse, error) {
	if err := ctxError(ctx, fmt.Sprintf("query %d of %d was searched", lo, len(qs))); err != nil {
		return nil, err
	}
	res, err := c.ix.SearchBatch(qs[lo:min(lo+searchChunk, len(qs))], s.k, s.params)
	if err != nil {
		return nil, indexError(err)
	}
	out := make([]*shoalv1.SearchResponse, len(res))
	for i, r := range res {
		b := budget
		if b == nil {
			// A stream's: each query's results must fit in a message.
			b = s.budget(fmt.Sprintf("the results of query %d", lo+i))
		}
		if out[i], err = hits(c, r, s.vectors, s.payloads, b); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (a vectorsAPI) SearchBatch(ctx context.Context, req *shoalv1.SearchBatchRequest) (*shoalv1.SearchBatchResponse, error) {
	args, err := a.batchArgs(ctx, req)
	if err != nil {
		return nil, err
	}
	c, err := a.acquire(req.GetCollection())
	if err != nil {
		return nil, err
	}
	defer c.release()
	qs, err := batchQueries(ctx, c, &args, req)
	if err != nil {
		return nil, err
	}
	what := fmt.Sprintf("a batch of %d queries of top_k %d%s", len(qs), args.k, withVectors(args.vectors))
	if err := a.checkResponse(what, searchBound(len(qs), args.k, c.rec.Dim, args.vectors), "use SearchBatchStream, split the batch, lower top_k or leave include_vectors off"); err != nil {
		return nil, err
	}
	resp := &shoalv1.SearchBatchResponse{Results: make([]*shoalv1.SearchResponse, 0, len(qs))}
	budget := args.budget(what)
	if budget == nil {
		budget = &responseBudget{left: math.MaxInt64}
	}
	for lo := 0; lo < len(qs); lo += searchChunk {
		res, err := args.searchChunk(ctx, c, qs, lo, budget)
		if err != nil {
			return nil, err
		}
		resp.Results = append(resp.Results, res...)
	}
	return resp, nil
}

// SearchBatchStream answers a batch in messages of the results of
// consecutive queries, each under min(MaxResponseBytes,
// streamMessageBytes) unless one query's results alone are larger. The
// collection is held for one chunk of searchChunk queries at a time,
// not while a message waits for a slow client: a drop meanwhile ends
// the stream with NotFound.
func (a vectorsAPI) SearchBatchStream(req *shoalv1.SearchBatchRequest, stream grpc.ServerStreamingServer[shoalv1.SearchBatchResponse]) error {
	ctx := stream.Context()
	args, err := a.batchArgs(ctx, req)
	if err != nil {
		return err
	}
	// The stream interceptor does not see the request: hold a tenant
	// key to its collection here, as the unary one does.
	if err := principalOf(ctx).reaches(req.GetCollection()); err != nil {
		return err
	}
	orig, err := a.acquire(req.GetCollection())
	if err != nil {
		return err
	}
	qs, err := batchQueries(ctx, orig, &args, req)
	dim := orig.rec.Dim
	orig.release()
	if err != nil {
		return err
	}
	what := fmt.Sprintf("the results of one query of top_k %d%s", args.k, withVectors(args.vectors))
	if err := a.checkResponse(what, searchBound(1, args.k, dim, args.vectors), "lower top_k, or leave include_vectors off"); err != nil {
		return err
	}
	pk := NewResultPacker(a.opts.MaxResponseBytes, stream.Send)
	for lo := 0; lo < len(qs); lo += searchChunk {
		c, err := a.acquire(req.GetCollection())
		if err != nil {
			return err
		}
		if c != orig {
			c.release()
			return status.Errorf(codes.NotFound, "collection %s was dropped during the stream (after %d queries)", clip(req.GetCollection()), lo)
		}
		res, err := args.searchChunk(ctx, c, qs, lo, nil)
		c.release()
		if err != nil {
			return err
		}
		if err := pk.Add(lo, res); err != nil {
			return err
		}
	}
	return pk.Flush()
}

// ResultPacker packs the results of a SearchBatchStream, in query order,
// into messages under a size limit (a message holds at least one
// query's results), and sends each one full. SearchBatchStream uses it,
// and so does cluster mode's router (package fleet).
type ResultPacker struct {
	send  func(*shoalv1.SearchBatchResponse) error
	limit int
	msg   *shoalv1.SearchBatchResponse
	size  int
}

// NewResultPacker returns a packer of messages under min(maxResponse,
// 4 MiB), the default receive limit of gRPC clients (maxResponse <= 0:
// 4 MiB), sent with send.
func NewResultPacker(maxResponse int, send func(*shoalv1.SearchBatchResponse) error) *ResultPacker {
	limit := streamMessageBytes
	if maxResponse > 0 {
		limit = min(maxResponse, limit)
	}
	return &ResultPacker{send: send, limit: limit, msg: &shoalv1.SearchBatchResponse{}}
}

// Add appends the results of queries first, first+1, ..., sending the
// message before whenever the next result would take it over the limit.
func (p *ResultPacker) Add(first int, rs []*shoalv1.SearchResponse) error {
	for i, r := range rs {
		n := proto.Size(r) + 8
		if len(p.msg.Results) > 0 && p.size+n > p.limit-16 {
			if err := p.send(p.msg); err != nil {
				return err
			}
			p.msg, p.size = &shoalv1.SearchBatchResponse{FirstQuery: uint32(first + i)}, 0
		}
		p.msg.Results = append(p.msg.Results, r)
		p.size += n
	}
	return nil
}

// Flush sends the last message, if it holds results.
func (p *ResultPacker) Flush() error {
	if len(p.msg.Results) == 0 {
		return nil
	}
	return p.send(p.msg)
}

// hits converts the index's results, with their vectors and payloads if
// asked for; budget (nil: none) counts the hits. A hit deleted since the
// search is returned without values or payload.
func hits(c *collection, res []index.Result, vectors, payloads bool, budget *responseBudget) (*shoalv1.SearchResponse, error) {
	out := &shoalv1.SearchResponse{Hits: make([]*shoalv1.Hit, len(res))}
	var ps [][]byte
	if payloads && len(res) > 0 {
		ids := make([]uint64, len(res))
		for i, r := range res {
			ids[i] = r.ID
		}
		var err error
		if ps, err = c.ix.Payloads(ids); err != nil {
			return nil, indexError(err)
		}
	}
	for i, r := range res {
		h := &shoalv1.Hit{Id: r.ID, Distance: r.Distance}
		if vectors {
			v, err := c.ix.Get(r.ID)
			if err != nil && !errors.Is(err, index.ErrNotFound) {
				return nil, indexError(err)
			}
			h.Values = v
		}
		if ps != nil {
			p, err := payloadStruct(r.ID, ps[i])
			if err != nil {
				return nil, err
			}
			h.Payload = p
		}
		if err := budget.charge(h); err != nil {
			return nil, err
		}
		out.Hits[i] = h
	}
	return out, nil
}
