package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/shoaldb/shoal/client"
	"github.com/shoaldb/shoal/index"
	shoalv1 "github.com/shoaldb/shoal/proto/shoal/v1"
	"github.com/shoaldb/shoal/tools/internal/clikit"
)

// clientBatch is how many rows one upsert message, get or search batch
// carries.
const clientBatch = 1000

// upsertVerb is `shoal client upsert NAME FILE`: row i of FILE gets id
// -first-id + i, or the i-th id of -ids. Ids that exist already are
// refused unless -upsert says to overwrite them.
func upsertVerb(conn *connOptions) *clikit.Command {
	var firstID uint64
	var idsFile, tenant string
	var overwrite bool
	var cmd *clikit.Command
	cmd = clientVerb(conn, "upsert", "NAME FILE (-first-id N | -ids FILE) [-upsert] [flags]",
		"insert the rows of a vector file (ids from -first-id or -ids); -upsert replaces existing ids",
		func(ctx context.Context, env *clikit.Env, c *client.Client, args []string) error {
			if err := needArgs(args, 2, "NAME FILE"); err != nil {
				return err
			}
			hasFirst := cmd.Flags.Changed("first-id")
			if hasFirst == (idsFile != "") {
				return clikit.Invalidf("give the ids of the rows: -first-id N (row i gets N+i) or -ids FILE (one id per row)")
			}
			name, file := args[0], args[1]
			src, err := index.OpenFile(file)
			if err != nil {
				return err
			}
			defer src.Close()
			n := src.Len()
			ids := make([]uint64, n)
			if idsFile != "" {
				if ids, err = readIDs(idsFile); err != nil {
					return err
				}
				if len(ids) != n {
					return fmt.Errorf("-ids %s has %d ids for the %d rows of %s", idsFile, len(ids), n, file)
				}
			} else {
				for i := range ids {
					ids[i] = firstID + uint64(i)
				}
			}
			if !overwrite {
				if err := refuseExisting(ctx, c, name, tenant, ids); err != nil {
					return err
				}
			}
			upserted, err := sendRows(ctx, c, name, tenant, src, ids)
			if err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "upserted %d vectors into %s\n", upserted, name)
			return nil
		})
	cmd.Flags.Uint64Var(&firstID, "first-id", 0, "id of the file's first row: row i gets first-id + i")
	cmd.Flags.StringVar(&idsFile, "ids", "", "ids of the rows, one per row (.ivecs .ibin or int32 .npy)")
	cmd.Flags.BoolVar(&overwrite, "upsert", false, "replace vectors whose ids exist already (without it such ids are refused)")
	cmd.Flags.StringVar(&tenant, "tenant", "", "act for this tenant (it owns the new vectors)")
	return cmd
}

// refuseExisting returns an error if any of ids holds a vector.
func refuseExisting(ctx context.Context, c *client.Client, name, tenant string, ids []uint64) error {
	var found []uint64
	total := 0
	for lo := 0; lo < len(ids); lo += clientBatch {
		resp, err := c.Vectors.Get(ctx, &shoalv1.GetRequest{Collection: name, Tenant: tenant, Ids: ids[lo:min(lo+clientBatch, len(ids))]})
		if err != nil {
			return err
		}
		total += len(resp.GetVectors())
		for _, v := range resp.GetVectors() {
			if len(found) < 5 {
				found = append(found, v.GetId())
			}
		}
	}
	if total > 0 {
		return fmt.Errorf("%d of the %d ids exist already in %s (e.g. %v): pass -upsert to replace them, or choose other ids", total, len(ids), name, found)
	}
	return nil
}

// sendRows upserts the rows of src with ids, a batch of clientBatch rows
// a call. A batch the server pushes back (RESOURCE_EXHAUSTED: background
// maintenance is behind; UNAVAILABLE: a cluster's log lost its quorum
// for a moment) is sent again after a back-off, growing from 100 ms to
// 5 s, for up to busyPatience in all: upserts are idempotent.
func sendRows(ctx context.Context, c *client.Client, name, tenant string, src index.Source, ids []uint64) (uint64, error) {
	rr := clikit.NewRowReader(src)
	n := src.Len()
	var upserted uint64
	for lo := 0; lo < n; lo += clientBatch {
		rows, err := rr.Read(lo, min(clientBatch, n-lo))
		if err != nil {
			return upserted, err
		}
		msg := &shoalv1.UpsertRequest{Collection: name, Tenant: tenant, Vectors: make([]*shoalv1.Vector, len(rows))}
		for i, r := range rows {
			msg.Vectors[i] = &shoalv1.Vector{Id: ids[lo+i], Values: slices.Clone(r)}
		}
		backoff, waited := 100*time.Millisecond, time.Duration(0)
		for {
			resp, err := c.Vectors.Upsert(ctx, msg)
			if err == nil {
				upserted += resp.GetUpserted()
				break
			}
			if code := status.Code(err); (code != codes.ResourceExhausted && code != codes.Unavailable) || waited >= busyPatience {
				return upserted, fmt.Errorf("rows %d..%d: %w (the %d rows before them are stored)", lo, lo+len(rows)-1, err, lo)
			}
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
				return upserted, ctx.Err()
			}
			waited += backoff
			backoff = min(2*backoff, 5*time.Second)
		}
	}
	return upserted, nil
}

// busyPatience bounds how long sendRows retries one pushed-back batch.
const busyPatience = 5 * time.Minute

// getVerb is `shoal client get NAME ID...`: one JSON line per vector.
func getVerb(conn *connOptions) *clikit.Command {
	var tenant string
	var src idSource
	cmd := clientVerb(conn, "get", "NAME ID... [flags]", "print stored vectors (values, labels, payload) as JSON lines",
		func(ctx context.Context, env *clikit.Env, c *client.Client, args []string) error {
			if len(args) < 1 {
				return clikit.Usagef("want NAME and ids")
			}
			ids, err := src.ids(args[1:])
			if err != nil {
				return err
			}
			vs, missing, err := getVectors(ctx, c, args[0], tenant, ids)
			if err != nil {
				return err
			}
			for _, v := range vs {
				b, err := vectorJSON(v)
				if err != nil {
					return err
				}
				fmt.Fprintf(env.Stdout, "%s\n", b)
			}
			if len(missing) > 0 {
				return fmt.Errorf("%d ids %w in %s: %v", len(missing), errMissing, args[0], missing[:min(len(missing), 10)])
			}
			return nil
		})
	src.define(cmd)
	cmd.Flags.StringVar(&tenant, "tenant", "", "act for this tenant: only the vectors it may read")
	return cmd
}

// getVectors gets ids in batches: the vectors found, and the ids missing.
func getVectors(ctx context.Context, c *client.Client, name, tenant string, ids []uint64) ([]*shoalv1.Vector, []uint64, error) {
	var vs []*shoalv1.Vector
	var missing []uint64
	for lo := 0; lo < len(ids); lo += clientBatch {
		resp, err := c.Vectors.Get(ctx, &shoalv1.GetRequest{Collection: name, Tenant: tenant, Ids: ids[lo:min(lo+clientBatch, len(ids))]})
		if err != nil {
			return nil, nil, err
		}
		vs = append(vs, resp.GetVectors()...)
		missing = append(missing, resp.GetMissing()...)
	}
	return vs, missing, nil
}

// vectorJSON is one vector as a JSON object: id, values, and labels and
// payload where it has them.
func vectorJSON(v *shoalv1.Vector) ([]byte, error) {
	m := map[string]any{"id": v.GetId(), "values": v.GetValues()}
	if ls := v.GetLabels(); len(ls) > 0 {
		m["labels"] = ls
	}
	if p := v.GetPayload(); p != nil {
		b, err := protojson.Marshal(p)
		if err != nil {
			return nil, err
		}
		m["payload"] = json.RawMessage(b)
	}
	return json.Marshal(m)
}

// deleteVerb is `shoal client delete NAME ID...`.
func deleteVerb(conn *connOptions) *clikit.Command {
	var tenant string
	var src idSource
	cmd := clientVerb(conn, "delete", "NAME (ID... | -ids FILE | -range A:B) [flags]", "delete vectors by id",
		func(ctx context.Context, env *clikit.Env, c *client.Client, args []string) error {
			if len(args) < 1 {
				return clikit.Usagef("want NAME and ids")
			}
			ids, err := src.ids(args[1:])
			if err != nil {
				return err
			}
			var deleted uint64
			for lo := 0; lo < len(ids); lo += clientBatch {
				resp, err := c.Vectors.Delete(ctx, &shoalv1.DeleteRequest{Collection: args[0], Tenant: tenant, Ids: ids[lo:min(lo+clientBatch, len(ids))]})
				if err != nil {
					return err
				}
				deleted += resp.GetDeleted()
			}
			fmt.Fprintf(env.Stdout, "deleted %d vectors from %s (%d ids given)\n", deleted, args[0], len(ids))
			return nil
		})
	src.define(cmd)
	cmd.Flags.StringVar(&tenant, "tenant", "", "act for this tenant: only the vectors it owns")
	return cmd
}

// searchVerb is `shoal client search NAME FILE`: the file's rows are the
// queries. Each query prints a line of its row and its neighbours'
// id:distance, or with -include-payload a JSON line.
func searchVerb(conn *connOptions) *clikit.Command {
	var k, nprobe int
	var tenant, filterExpr string
	var payload bool
	cmd := clientVerb(conn, "search", "NAME FILE [flags]", "search with the rows of a vector file; print each query's neighbours",
		func(ctx context.Context, env *clikit.Env, c *client.Client, args []string) error {
			if err := needArgs(args, 2, "NAME FILE"); err != nil {
				return err
			}
			if k < 1 {
				return clikit.Invalidf("-k %d, want >= 1", k)
			}
			if nprobe < 0 {
				return clikit.Invalidf("-nprobe %d, want >= 0", nprobe)
			}
			req := &shoalv1.SearchBatchRequest{
				Collection: args[0], TopK: uint32(k), Tenant: tenant, FilterExpr: filterExpr, IncludePayload: payload,
				Params: &shoalv1.SearchParams{Nprobe: uint32(nprobe)},
			}
			return searchFile(ctx, env, c, req, args[1])
		})
	cmd.Flags.IntVar(&k, "k", 10, "neighbours per query")
	cmd.Flags.IntVar(&nprobe, "nprobe", 0, "postings read per query (0: the collection's default)")
	cmd.Flags.StringVar(&tenant, "tenant", "", "search as this tenant: only the vectors it may read")
	cmd.Flags.StringVar(&filterExpr, "filter", "", "only vectors whose labels match this expression, e.g. 'red AND NOT archived'")
	cmd.Flags.BoolVar(&payload, "include-payload", false, "print each hit's payload: one JSON line per query")
	return cmd
}

// searchFile runs the rows of file as the queries of req, a batch at a
// time through SearchBatchStream, whose messages stay under gRPC's
// default receive limit whatever top_k is.
func searchFile(ctx context.Context, env *clikit.Env, c *client.Client, req *shoalv1.SearchBatchRequest, file string) error {
	src, err := index.OpenFile(file)
	if err != nil {
		return err
	}
	defer src.Close()
	rr := clikit.NewRowReader(src)
	n := src.Len()
	for lo := 0; lo < n; lo += clientBatch {
		rows, err := rr.Read(lo, min(clientBatch, n-lo))
		if err != nil {
			return err
		}
		req.Queries = req.Queries[:0]
		for _, r := range rows {
			req.Queries = append(req.Queries, &shoalv1.Query{Values: r})
		}
		stream, err := c.Vectors.SearchBatchStream(ctx, req)
		if err != nil {
			return err
		}
		done := 0
		for {
			resp, err := stream.Recv()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return err
			}
			if int(resp.GetFirstQuery()) != done || done+len(resp.GetResults()) > len(rows) {
				return errors.New("the server answered queries out of order")
			}
			for _, r := range resp.GetResults() {
				if err := printHits(env, lo+done, r.GetHits(), req.IncludePayload); err != nil {
					return err
				}
				done++
			}
		}
		if done != len(rows) {
			return errors.New("the server answered a different number of queries")
		}
	}
	return nil
}

// printHits prints one query's hits: "row\tid:distance…", or with
// payloads a JSON line {"query": row, "hits": [{"id", "distance",
// "payload"}]}.
func printHits(env *clikit.Env, row int, hits []*shoalv1.Hit, payload bool) error {
	if !payload {
		var b strings.Builder
		fmt.Fprintf(&b, "%d", row)
		for _, h := range hits {
			fmt.Fprintf(&b, "\t%d:%g", h.GetId(), h.GetDistance())
		}
		_, err := fmt.Fprintln(env.Stdout, b.String())
		return err
	}
	type hit struct {
		ID       uint64          `json:"id"`
		Distance float32         `json:"distance"`
		Payload  json.RawMessage `json:"payload,omitempty"`
	}
	out := struct {
		Query int   `json:"query"`
		Hits  []hit `json:"hits"`
	}{Query: row, Hits: []hit{}}
	for _, h := range hits {
		x := hit{ID: h.GetId(), Distance: h.GetDistance()}
		if p := h.GetPayload(); p != nil {
			b, err := protojson.Marshal(p)
			if err != nil {
				return err
			}
			x.Payload = b
		}
		out.Hits = append(out.Hits, x)
	}
	b, err := json.Marshal(out)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(env.Stdout, "%s\n", b)
	return err
}
