// Package client is a Go client of the Shoal gRPC server (API shoal.v1).
//
//	c, err := client.Dial("localhost:7370", &client.Options{APIKey: key})
//	defer c.Close()
//	_, err = c.CreateCollection(ctx, "docs", &shoalv1.CollectionConfig{Dim: 384})
//	err = c.Upsert(ctx, "docs", ids, vectors)
//	hits, err := c.Search(ctx, "docs", query, 10, nil)
//	err = c.UpsertRecords(ctx, "docs", []client.Record{{ID: 1, Values: v,
//		Labels: []string{"lang=en"}, Payload: map[string]any{"title": "Hi"}}})
//	hits, err = c.SearchWith(ctx, "docs", query, 10, &client.SearchOptions{
//		Filter: "lang=en", IncludePayload: true})
//
// The generated stubs (Collections, Vectors, Tenants, Admin) reach every
// RPC; the methods of Client cover the common calls. Errors are gRPC
// statuses: status.Code(err) says which (see shoal.proto).
package client

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"slices"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/shoaldb/shoal/internal/grpccomp"
	shoalv1 "github.com/shoaldb/shoal/proto/shoal/v1"
)

// Options configure a Client. The zero value connects without TLS and
// without an API key.
type Options struct {
	// APIKey is sent with every call ("authorization: Bearer <key>").
	APIKey string
	// TLS, if set, connects with TLS; nil connects in plaintext.
	TLS *tls.Config
	// MaxSendBatch is how many vectors UpsertStream puts in one message.
	// Default 1,000.
	MaxSendBatch int
	// Compression names the codec that compresses every request ("zstd"
	// or "s2", package internal/grpccomp; the server answers in the same
	// one). Empty: none. It pays where the network, not the CPU, is the
	// limit: float vectors shrink little (docs/server.md, Compression).
	Compression string
	// DialOptions are added to the client's own.
	DialOptions []grpc.DialOption
}

// ErrUnknownCompression reports an Options.Compression that is not a
// registered codec.
var ErrUnknownCompression = errors.New("client: unknown compression")

// Validate reports options that cannot work.
func (o *Options) Validate() error {
	if o.Compression != "" && !slices.Contains(grpccomp.Names, o.Compression) {
		return fmt.Errorf("%w %q: want one of %v", ErrUnknownCompression, o.Compression, grpccomp.Names)
	}
	return nil
}

// EnsureDefaults fills unset fields with their defaults.
func (o *Options) EnsureDefaults() {
	if o.MaxSendBatch <= 0 {
		o.MaxSendBatch = 1000
	}
}

// Client is a connection to a Shoal server. It is safe for concurrent
// use.
type Client struct {
	conn *grpc.ClientConn
	opts Options
	// The generated stubs, for every RPC of the API.
	Collections shoalv1.CollectionServiceClient
	Vectors     shoalv1.VectorServiceClient
	Tenants     shoalv1.TenantServiceClient
	Admin       shoalv1.AdminServiceClient
	Health      healthpb.HealthClient
}

// Dial returns a client of the server at addr (host:port). It connects
// lazily: the first call reports a server that cannot be reached.
func Dial(addr string, o *Options) (*Client, error) {
	var opts Options
	if o != nil {
		opts = *o
	}
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	creds := insecure.NewCredentials()
	if opts.TLS != nil {
		creds = credentials.NewTLS(opts.TLS)
	}
	dopts := []grpc.DialOption{grpc.WithTransportCredentials(creds)}
	if opts.Compression != "" {
		dopts = append(dopts, grpc.WithDefaultCallOptions(grpc.UseCompressor(opts.Compression)))
	}
	if opts.APIKey != "" {
		md := []string{"authorization", "Bearer " + opts.APIKey}
		dopts = append(dopts,
			grpc.WithChainUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, co ...grpc.CallOption) error {
				return invoker(metadata.AppendToOutgoingContext(ctx, md...), method, req, reply, cc, co...)
			}),
			grpc.WithChainStreamInterceptor(func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, co ...grpc.CallOption) (grpc.ClientStream, error) {
				return streamer(metadata.AppendToOutgoingContext(ctx, md...), desc, cc, method, co...)
			}),
		)
	}
	conn, err := grpc.NewClient(addr, append(dopts, opts.DialOptions...)...)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	return &Client{
		conn: conn, opts: opts,
		Collections: shoalv1.NewCollectionServiceClient(conn),
		Vectors:     shoalv1.NewVectorServiceClient(conn),
		Tenants:     shoalv1.NewTenantServiceClient(conn),
		Admin:       shoalv1.NewAdminServiceClient(conn),
		Health:      healthpb.NewHealthClient(conn),
	}, nil
}

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// CreateCollection creates a collection; cfg.Dim is required.
func (c *Client) CreateCollection(ctx context.Context, name string, cfg *shoalv1.CollectionConfig) (*shoalv1.Collection, error) {
	return c.Collections.CreateCollection(ctx, &shoalv1.CreateCollectionRequest{Name: name, Config: cfg})
}

// DropCollection drops a collection and all its vectors.
func (c *Client) DropCollection(ctx context.Context, name string) error {
	_, err := c.Collections.DropCollection(ctx, &shoalv1.DropCollectionRequest{Name: name})
	return err
}

// ErrLengths reports ids and vectors of different lengths.
var ErrLengths = errors.New("client: ids and vectors differ in length")

func toVectors(ids []uint64, vecs [][]float32) ([]*shoalv1.Vector, error) {
	if len(ids) != len(vecs) {
		return nil, fmt.Errorf("%w: %d ids, %d vectors", ErrLengths, len(ids), len(vecs))
	}
	out := make([]*shoalv1.Vector, len(ids))
	for i := range ids {
		out[i] = &shoalv1.Vector{Id: ids[i], Values: vecs[i]}
	}
	return out, nil
}

// Upsert inserts or replaces vecs[i] under ids[i] in one request: all or
// nothing.
func (c *Client) Upsert(ctx context.Context, collection string, ids []uint64, vecs [][]float32) error {
	vs, err := toVectors(ids, vecs)
	if err != nil {
		return err
	}
	_, err = c.Vectors.Upsert(ctx, &shoalv1.UpsertRequest{Collection: collection, Vectors: vs})
	return err
}

// UpsertStream sends any number of vectors over one client stream, in
// messages of Options.MaxSendBatch, and returns how many the server
// stored. On an error, the messages before the failing one are stored.
func (c *Client) UpsertStream(ctx context.Context, collection string, ids []uint64, vecs [][]float32) (int, error) {
	vs, err := toVectors(ids, vecs)
	if err != nil {
		return 0, err
	}
	st, err := c.Vectors.UpsertStream(ctx)
	if err != nil {
		return 0, err
	}
	for lo := 0; lo < len(vs); lo += c.opts.MaxSendBatch {
		msg := &shoalv1.UpsertRequest{Collection: collection, Vectors: vs[lo:min(lo+c.opts.MaxSendBatch, len(vs))]}
		if err := st.Send(msg); err != nil {
			break // the server ended the stream: CloseAndRecv says why
		}
	}
	resp, err := st.CloseAndRecv()
	if err != nil {
		return 0, err
	}
	return int(resp.GetUpserted()), nil
}

// Delete removes the vectors of ids and returns how many existed.
func (c *Client) Delete(ctx context.Context, collection string, ids []uint64) (int, error) {
	resp, err := c.Vectors.Delete(ctx, &shoalv1.DeleteRequest{Collection: collection, Ids: ids})
	if err != nil {
		return 0, err
	}
	return int(resp.GetDeleted()), nil
}

// Get returns the stored vectors of ids by id; ids without one are
// absent from the map.
func (c *Client) Get(ctx context.Context, collection string, ids []uint64) (map[uint64][]float32, error) {
	resp, err := c.Vectors.Get(ctx, &shoalv1.GetRequest{Collection: collection, Ids: ids})
	if err != nil {
		return nil, err
	}
	out := make(map[uint64][]float32, len(resp.GetVectors()))
	for _, v := range resp.GetVectors() {
		out[v.GetId()] = v.GetValues()
	}
	return out, nil
}

// Search returns the k nearest vectors to q, nearest first. params may be
// nil (the collection's defaults).
func (c *Client) Search(ctx context.Context, collection string, q []float32, k int, params *shoalv1.SearchParams) ([]*shoalv1.Hit, error) {
	if k < 1 {
		return nil, fmt.Errorf("client: k %d, want >= 1", k)
	}
	resp, err := c.Vectors.Search(ctx, &shoalv1.SearchRequest{Collection: collection, Query: q, TopK: uint32(k), Params: params})
	if err != nil {
		return nil, err
	}
	return resp.GetHits(), nil
}

// Record is a vector with its labels and payload: what UpsertRecords
// writes and GetRecords reads.
type Record struct {
	ID     uint64
	Values []float32
	// Labels are label names ("color=red") or decimal label ids. At
	// upsert, when any record of a call has labels, every record's labels
	// are set (none for one without); when none has, the vectors keep
	// theirs. GetRecords returns labels by name where they have one.
	Labels []string
	// Payload is a JSON object (values as encoding/json decodes them:
	// string, float64, bool, nil, []any, map[string]any). At upsert, a
	// nil Payload keeps the stored one.
	Payload map[string]any
}

// toStruct converts a payload; nil stays nil.
func toStruct(i int, p map[string]any) (*structpb.Struct, error) {
	if p == nil {
		return nil, nil
	}
	s, err := structpb.NewStruct(p)
	if err != nil {
		return nil, fmt.Errorf("client: payload of record %d: %w", i, err)
	}
	return s, nil
}

// UpsertRecords inserts or replaces the vectors of recs, with their
// labels and payloads, in one request: all or nothing.
func (c *Client) UpsertRecords(ctx context.Context, collection string, recs []Record) error {
	vs := make([]*shoalv1.Vector, len(recs))
	for i, r := range recs {
		p, err := toStruct(i, r.Payload)
		if err != nil {
			return err
		}
		vs[i] = &shoalv1.Vector{Id: r.ID, Values: r.Values, Labels: r.Labels, Payload: p}
	}
	_, err := c.Vectors.Upsert(ctx, &shoalv1.UpsertRequest{Collection: collection, Vectors: vs})
	return err
}

// GetRecords returns the vectors of ids with their labels and payloads,
// by id; ids without a vector are absent from the map.
func (c *Client) GetRecords(ctx context.Context, collection string, ids []uint64) (map[uint64]Record, error) {
	resp, err := c.Vectors.Get(ctx, &shoalv1.GetRequest{Collection: collection, Ids: ids})
	if err != nil {
		return nil, err
	}
	out := make(map[uint64]Record, len(resp.GetVectors()))
	for _, v := range resp.GetVectors() {
		r := Record{ID: v.GetId(), Values: v.GetValues(), Labels: v.GetLabels()}
		if v.GetPayload() != nil {
			r.Payload = v.GetPayload().AsMap()
		}
		out[v.GetId()] = r
	}
	return out, nil
}

// SetPayloads replaces the payloads of the vectors of ids, atomically: a
// nil payload removes one. Every id must hold a vector.
func (c *Client) SetPayloads(ctx context.Context, collection string, payloads map[uint64]map[string]any) error {
	req := &shoalv1.SetPayloadsRequest{Collection: collection}
	ids := make([]uint64, 0, len(payloads))
	for id := range payloads {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for i, id := range ids {
		p, err := toStruct(i, payloads[id])
		if err != nil {
			return err
		}
		req.Vectors = append(req.Vectors, &shoalv1.PayloadSet{Id: id, Payload: p})
	}
	_, err := c.Vectors.SetPayloads(ctx, req)
	return err
}

// SearchOptions are the optional parts of SearchWith.
type SearchOptions struct {
	Params *shoalv1.SearchParams // nil: the collection's defaults
	// Filter is a label filter in the text syntax
	// ("color=red AND NOT 7"); "" for none.
	Filter         string
	IncludeVectors bool
	IncludePayload bool // each hit's payload (Hit.Payload; .AsMap())
}

// SearchWith is Search with a filter and the hits' payloads or vectors.
func (c *Client) SearchWith(ctx context.Context, collection string, q []float32, k int, o *SearchOptions) ([]*shoalv1.Hit, error) {
	if k < 1 {
		return nil, fmt.Errorf("client: k %d, want >= 1", k)
	}
	if o == nil {
		o = &SearchOptions{}
	}
	resp, err := c.Vectors.Search(ctx, &shoalv1.SearchRequest{Collection: collection, Query: q, TopK: uint32(k), Params: o.Params,
		FilterExpr: o.Filter, IncludeVectors: o.IncludeVectors, IncludePayload: o.IncludePayload})
	if err != nil {
		return nil, err
	}
	return resp.GetHits(), nil
}

// ListLabels returns the label names of a collection with their ids, by
// name.
func (c *Client) ListLabels(ctx context.Context, collection string) ([]*shoalv1.LabelName, error) {
	resp, err := c.Vectors.ListLabels(ctx, &shoalv1.ListLabelsRequest{Collection: collection})
	if err != nil {
		return nil, err
	}
	return resp.GetLabels(), nil
}
