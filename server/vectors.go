package server

import (
	"context"
	"errors"
	"fmt"
	"io"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/shoaldb/shoal/index"
	shoalv1 "github.com/shoaldb/shoal/proto/shoal/v1"
)

// vectorsAPI implements shoal.v1 VectorService.
type vectorsAPI struct {
	*Server
	shoalv1.UnimplementedVectorServiceServer // answers RPCs added to the API later
}

var _ shoalv1.VectorServiceServer = vectorsAPI{}

// tenantNumber returns the index's number of tenant name in c, 0 for
// no tenant.
func tenantNumber(c *collection, name string) (uint32, error) {
	if name == "" {
		return 0, nil
	}
	return c.tenantID(name)
}

// begin starts a data call on a collection for the tenant the caller's
// key allows (requested, or the key's own): it checks the batch of n
// items named what, acquires the collection (the caller releases it) and
// returns the tenant's name and number in it ("" and 0 for none). A
// tenant key is held to its collection here too, for the messages of a
// stream, which the interceptor does not see.
func (a vectorsAPI) begin(ctx context.Context, requested, coll, what string, n int) (c *collection, t uint32, tname string, err error) {
	if err := checkTenantName(requested); err != nil {
		return nil, 0, "", err
	}
	if tname, err = scope(ctx, requested); err != nil {
		return nil, 0, "", err
	}
	if err := principalOf(ctx).reaches(coll); err != nil {
		return nil, 0, "", err
	}
	if err := a.checkBatch(what, n); err != nil {
		return nil, 0, "", err
	}
	if c, err = a.acquire(coll); err != nil {
		return nil, 0, "", err
	}
	if t, err = tenantFor(ctx, c, tname); err != nil {
		c.release()
		return nil, 0, "", err
	}
	return c, t, tname, nil
}

func (a vectorsAPI) Upsert(ctx context.Context, req *shoalv1.UpsertRequest) (*shoalv1.UpsertResponse, error) {
	n, err := a.upsert(ctx, req)
	if err != nil {
		return nil, err
	}
	return &shoalv1.UpsertResponse{Upserted: uint64(n)}, nil
}

// upsert checks and applies one upsert message; it returns the number of
// vectors stored.
func (a vectorsAPI) upsert(ctx context.Context, req *shoalv1.UpsertRequest) (int, error) {
	c, t, tname, err := a.begin(ctx, req.GetTenant(), req.GetCollection(), "vectors", len(req.GetVectors()))
	if err != nil {
		return 0, err
	}
	defer c.release()
	ids := make([]uint64, len(req.GetVectors()))
	vecs := make([][]float32, len(ids))
	seen := make(map[uint64]int, len(ids))
	// Labels, if any vector carries some, replace every vector's (nil
	// keeps them); payloads, if any vector carries one, are set for
	// those that do (nil keeps the others').
	names := make([][]string, len(ids))
	var payloads [][]byte
	for i, v := range req.GetVectors() {
		what := fmt.Sprintf("vector %d (id %d)", i, v.GetId())
		if err := checkLabelStrings(what, v.GetLabels()); err != nil {
			return 0, err
		}
		if err := checkReservedLabels(ctx, c, what, v.GetLabels(), nil); err != nil {
			return 0, err
		}
		names[i] = v.GetLabels()
		if err := CheckVector(what, v.GetValues(), c.rec.Dim); err != nil {
			return 0, err
		}
		if j, dup := seen[v.GetId()]; dup {
			return 0, status.Errorf(codes.InvalidArgument, "id %d appears twice in the request (vectors %d and %d)", v.GetId(), j, i)
		}
		seen[v.GetId()] = i
		ids[i], vecs[i] = v.GetId(), v.GetValues()
		if v.GetPayload() != nil {
			p, err := a.payloadJSON(what, v.GetPayload())
			if err != nil {
				return 0, err
			}
			if payloads == nil {
				payloads = make([][]byte, len(ids))
			}
			payloads[i] = p
		}
	}
	// The last point at which the call may still be refused whole.
	if err := ctxError(ctx, "the upsert was applied"); err != nil {
		return 0, err
	}
	wdone, err := c.writing()
	if err != nil {
		return 0, err
	}
	defer wdone()
	if t != 0 {
		if err = checkTenantWrite(c, t, tname, ids); err != nil {
			return 0, err
		}
	}
	// Names are resolved (new ones given ids) once the call can no
	// longer be refused for its content.
	labels, err := resolveNamed(c, names)
	if err != nil {
		return 0, err
	}
	if labels != nil {
		for i := range labels {
			if labels[i] == nil {
				labels[i] = []uint32{}
			}
		}
	}
	switch {
	case t != 0:
		if labels != nil || payloads != nil {
			err = c.ix.UpsertWithPayloads(t, ids, vecs, labels, payloads)
		} else {
			err = c.ix.UpsertOwned(t, ids, vecs)
		}
		if errors.Is(err, index.ErrBadInput) {
			// Another tenant may have stored one of the ids since the
			// check (the index refuses it, naming tenant numbers).
			if cerr := checkTenantWrite(c, t, tname, ids); cerr != nil {
				return 0, cerr
			}
		}
	case labels != nil || payloads != nil:
		err = c.ix.UpsertWithPayloads(0, ids, vecs, labels, payloads)
	default:
		err = c.ix.Upsert(ids, vecs)
	}
	if err != nil {
		return 0, indexError(err)
	}
	return len(ids), nil
}

func (a vectorsAPI) UpsertStream(stream grpc.ClientStreamingServer[shoalv1.UpsertRequest, shoalv1.UpsertResponse]) error {
	ctx := stream.Context()
	var total, msgs int
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return stream.SendAndClose(&shoalv1.UpsertResponse{Upserted: uint64(total)})
		}
		if err != nil {
			return err
		}
		n, err := a.upsert(ctx, req)
		if err != nil {
			st := status.Convert(err)
			return status.Errorf(st.Code(), "message %d: %s (the %d messages before it, %d vectors, are stored)", msgs, st.Message(), msgs, total)
		}
		total += n
		msgs++
	}
}

func (a vectorsAPI) Delete(ctx context.Context, req *shoalv1.DeleteRequest) (*shoalv1.DeleteResponse, error) {
	c, t, tname, err := a.begin(ctx, req.GetTenant(), req.GetCollection(), "ids", len(req.GetIds()))
	if err != nil {
		return nil, err
	}
	defer c.release()
	wdone, err := c.writing()
	if err != nil {
		return nil, err
	}
	defer wdone()
	ids := req.GetIds()
	if t != 0 {
		// Only the tenant's own vectors; absent ids are dropped so that
		// a vector another tenant stores under one meanwhile is not hit.
		if ids, err = tenantDeletable(c, t, tname, ids); err != nil || len(ids) == 0 {
			return &shoalv1.DeleteResponse{}, err
		}
	}
	if err := ctxError(ctx, "the delete was applied"); err != nil {
		return nil, err
	}
	n, err := c.ix.Delete(ids)
	if err != nil {
		return nil, indexError(err)
	}
	return &shoalv1.DeleteResponse{Deleted: uint64(n)}, nil
}

func (a vectorsAPI) Get(ctx context.Context, req *shoalv1.GetRequest) (*shoalv1.GetResponse, error) {
	c, t, _, err := a.begin(ctx, req.GetTenant(), req.GetCollection(), "ids", len(req.GetIds()))
	if err != nil {
		return nil, err
	}
	defer c.release()
	what := fmt.Sprintf("a get of %d vectors of dimension %d", len(req.GetIds()), c.rec.Dim)
	if err := a.checkResponse(what, getBound(len(req.GetIds()), c.rec.Dim), "ask for fewer ids"); err != nil {
		return nil, err
	}
	// Labels and payloads are counted as they are read.
	budget := &responseBudget{left: int64(a.opts.MaxResponseBytes), what: what, hint: "ask for fewer ids"}
	resp := &shoalv1.GetResponse{}
	for i, id := range req.GetIds() {
		if i%256 == 0 {
			if err := ctxError(ctx, "every vector was read"); err != nil {
				return nil, err
			}
		}
		if t != 0 && !c.ix.CanRead(t, id) {
			// Not the tenant's: as good as missing, existence included.
			resp.Missing = append(resp.Missing, id)
			continue
		}
		v, err := c.ix.Get(id)
		if errors.Is(err, index.ErrNotFound) {
			resp.Missing = append(resp.Missing, id)
			continue
		}
		if err != nil {
			return nil, indexError(err)
		}
		resp.Vectors = append(resp.Vectors, &shoalv1.Vector{Id: id, Values: v})
	}
	for lo := 0; lo < len(resp.Vectors); lo += getExtrasChunk {
		if err := getExtras(c, resp.Vectors[lo:min(lo+getExtrasChunk, len(resp.Vectors))], budget); err != nil {
			return nil, err
		}
	}
	return resp, nil
}

// getExtrasChunk is how many vectors of a Get have their labels and
// payloads read at once (one ordered scan each).
const getExtrasChunk = 256

// getExtras adds to each of vs its labels (by name where they have one)
// and its payload, and charges it to budget. A vector deleted since it
// was read gets neither.
func getExtras(c *collection, vs []*shoalv1.Vector, budget *responseBudget) error {
	pos := make(map[uint64]int, len(vs))
	var ids []uint64
	for _, v := range vs {
		if _, ok := pos[v.Id]; !ok {
			pos[v.Id] = len(ids)
			ids = append(ids, v.Id)
		}
	}
	ls, err := c.ix.LabelSets(ids)
	if err != nil {
		return indexError(err)
	}
	ps, err := c.ix.Payloads(ids)
	if err != nil {
		return indexError(err)
	}
	for _, v := range vs {
		j := pos[v.Id]
		v.Labels = labelStrings(c, ls[j])
		if v.Payload, err = payloadStruct(v.Id, ps[j]); err != nil {
			return err
		}
		if err := budget.charge(v); err != nil {
			return err
		}
	}
	return nil
}
