package server

import (
	"context"
	"errors"
	"path"
	"slices"
	"strconv"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/shoaldb/shoal/index"
	shoalv1 "github.com/shoaldb/shoal/proto/shoal/v1"
)

// collectionsAPI implements shoal.v1 CollectionService.
type collectionsAPI struct {
	*Server
	shoalv1.UnimplementedCollectionServiceServer // answers RPCs added to the API later
}

var _ shoalv1.CollectionServiceServer = collectionsAPI{}

// metrics and elems map the API's enums to the index's.
var (
	metrics = map[shoalv1.Metric]index.Metric{
		shoalv1.Metric_METRIC_UNSPECIFIED:   index.L2,
		shoalv1.Metric_METRIC_L2:            index.L2,
		shoalv1.Metric_METRIC_INNER_PRODUCT: index.InnerProduct,
		shoalv1.Metric_METRIC_COSINE:        index.Cosine,
	}
	elems = map[shoalv1.ElementType]index.ElemType{
		shoalv1.ElementType_ELEMENT_TYPE_UNSPECIFIED: index.Float32,
		shoalv1.ElementType_ELEMENT_TYPE_FLOAT32:     index.Float32,
		shoalv1.ElementType_ELEMENT_TYPE_FLOAT16:     index.Float16,
		shoalv1.ElementType_ELEMENT_TYPE_UINT8:       index.Uint8,
		shoalv1.ElementType_ELEMENT_TYPE_INT8:        index.Int8,
	}
)

// maxDim bounds a collection's dimension (index: posting.MaxDim is
// larger; 4096 covers the embedding models in use and bounds requests).
const maxDim = 4096

func (a collectionsAPI) CreateCollection(ctx context.Context, req *shoalv1.CreateCollectionRequest) (*shoalv1.Collection, error) {
	a.ddl.Lock()
	defer a.ddl.Unlock()
	c, err := a.newCollection(ctx, req.GetName(), req.GetConfig())
	if err != nil {
		return nil, err
	}
	if err := a.addCollection(c); err != nil {
		return nil, err
	}
	return describe(c.rec, 0), nil
}

// newCollection checks a new collection's name and config and creates
// its index, open; the catalog does not list it yet (a crash leaves an
// orphan namespace, which the next Open drops). The caller holds s.ddl
// and finishes with addCollection, or drops it with discardCollection.
func (s *Server) newCollection(ctx context.Context, name string, cfg *shoalv1.CollectionConfig) (*collection, error) {
	r, err := s.newRecord(ctx, name, cfg)
	if err != nil {
		return nil, err
	}
	opts, c := s.indexOptions(r), configOptions(cfg)
	opts.Metric, opts.Elem, opts.PostingCap, opts.Replicas = c.Metric, c.Elem, c.PostingCap, c.Replicas
	opts.IndexedPayloadFields = r.IndexedFields
	opts.Quant, opts.QuantBits = c.Quant, c.QuantBits
	m, err := index.Create(s.collDir(r), r.Dim, opts)
	if err != nil {
		_ = index.Drop(s.collDir(r), &index.Options{Shared: s.db})
		return nil, indexError(err)
	}
	r.PostingCap, r.Replicas, r.Quant = m.PostingCap, m.Replicas, quantName(m.Quant)
	ix, err := index.Open(s.collDir(r), s.indexOptions(r))
	if err != nil {
		_ = index.Drop(s.collDir(r), &index.Options{Shared: s.db})
		return nil, internal("create collection %q: %v", r.Name, err)
	}
	return &collection{rec: r, ix: ix, tenants: map[string]uint32{}}, nil
}

// checkConfig checks a new collection's config, as far as it can be
// checked without the index (newCollection's index.Create checks the
// rest).
func checkConfig(cfg *shoalv1.CollectionConfig) error {
	if cfg == nil {
		return status.Error(codes.InvalidArgument, "config is required (at least config.dim)")
	}
	if _, ok := metrics[cfg.GetMetric()]; !ok {
		return status.Errorf(codes.InvalidArgument, "unknown metric %d", cfg.GetMetric())
	}
	if _, ok := elems[cfg.GetElementType()]; !ok {
		return status.Errorf(codes.InvalidArgument, "unknown element type %d", cfg.GetElementType())
	}
	switch {
	case cfg.GetDim() == 0:
		return status.Error(codes.InvalidArgument, "config.dim is required")
	case cfg.GetDim() > maxDim:
		return status.Errorf(codes.InvalidArgument, "config.dim %d above the maximum %d", cfg.GetDim(), maxDim)
	case cfg.GetReplicas() > 64:
		return status.Errorf(codes.InvalidArgument, "config.replicas %d, want at most 64", cfg.GetReplicas())
	case cfg.GetPostingCap() > 1<<20:
		return status.Errorf(codes.InvalidArgument, "config.posting_cap %d, want at most %d", cfg.GetPostingCap(), 1<<20)
	case cfg.GetShards() > 1 || cfg.GetReplication() > 1:
		return status.Errorf(codes.InvalidArgument, "config.shards %d, config.replication %d: a single-node server holds one copy of one shard (several need cluster mode: shoal serve -cluster)", cfg.GetShards(), cfg.GetReplication())
	}
	if _, _, err := index.ParseQuant(cfg.GetQuant()); err != nil {
		return status.Errorf(codes.InvalidArgument, "config.quant %s, want none, rabitq or rabitq1 to rabitq8", clip(cfg.GetQuant()))
	}
	if err := checkSearchParams("config.default_search", cfg.GetDefaultSearch()); err != nil {
		return err
	}
	if err := index.CheckIndexedFields(cfg.GetIndexedPayloadFields()); err != nil {
		return status.Errorf(codes.InvalidArgument, "config.indexed_payload_fields: %s", clipMessage(err.Error()))
	}
	return nil
}

// CheckCollectionConfig reports, as CreateCollection would (status
// InvalidArgument), why a collection with cfg cannot be created, without
// creating anything. Cluster mode's router (package fleet) checks a
// collection's config with it before any node creates a replica; shards
// and replication, its own fields, are left to it.
func CheckCollectionConfig(cfg *shoalv1.CollectionConfig) error {
	if cfg != nil && (cfg.GetShards() > 1 || cfg.GetReplication() > 1) {
		cfg = proto.Clone(cfg).(*shoalv1.CollectionConfig)
		cfg.Shards, cfg.Replication = 0, 0
	}
	if err := checkConfig(cfg); err != nil {
		return err
	}
	if err := index.CheckCreate(int(cfg.GetDim()), configOptions(cfg)); err != nil {
		return indexError(err)
	}
	return nil
}

// configOptions are the index options of a collection config.
func configOptions(cfg *shoalv1.CollectionConfig) *index.Options {
	opts := &index.Options{Metric: metrics[cfg.GetMetric()], Elem: elems[cfg.GetElementType()],
		PostingCap: int(cfg.GetPostingCap()), Replicas: int(cfg.GetReplicas()), IndexedPayloadFields: cfg.GetIndexedPayloadFields()}
	opts.Quant, opts.QuantBits, _ = index.ParseQuant(cfg.GetQuant()) // checkConfig checked it
	return opts
}

// newRecord checks a new collection's name and config and returns its
// record, with a collection number of its own (PostingCap, Replicas and
// Quant are the index's to set). The caller holds s.ddl.
func (s *Server) newRecord(ctx context.Context, name string, cfg *shoalv1.CollectionConfig) (collectionRecord, error) {
	if err := checkName("collection", name); err != nil {
		return collectionRecord{}, err
	}
	if err := checkConfig(cfg); err != nil {
		return collectionRecord{}, err
	}
	sp := cfg.GetDefaultSearch()
	if err := ctxError(ctx, "the collection was created"); err != nil {
		return collectionRecord{}, err
	}
	s.mu.RLock()
	_, exists := s.mu.colls[name]
	closed := s.mu.closed
	s.mu.RUnlock()
	switch {
	case closed:
		return collectionRecord{}, status.Error(codes.Unavailable, "server is shutting down")
	case exists:
		return collectionRecord{}, status.Errorf(codes.AlreadyExists, "collection %q already exists", name)
	}
	num, err := s.cat.nextNumber()
	if err != nil {
		return collectionRecord{}, internal("collection number: %v", err)
	}
	return collectionRecord{
		Name: name, Number: num, Dir: path.Join(collectionsDir, strconv.FormatUint(num, 10)),
		Dim: int(cfg.GetDim()), Metric: metricName(cfg.GetMetric()), Elem: elemName(cfg.GetElementType()),
		NProbe: int(sp.GetNprobe()), Epsilon: sp.GetEpsilon(), Beam: int(sp.GetBeam()),
		CreatedMs:     time.Now().UnixMilli(),
		IndexedFields: slices.Clone(cfg.GetIndexedPayloadFields()),
	}, nil
}

// addCollection writes the record of a collection made by newCollection
// and serves it; on failure it drops it. The caller holds s.ddl.
func (s *Server) addCollection(c *collection) error {
	if err := s.cat.putCollection(c.rec); err != nil {
		s.discardCollection(c)
		return internal("create collection %q: %v", c.rec.Name, err)
	}
	s.mu.Lock()
	s.mu.colls[c.rec.Name] = c
	s.mu.Unlock()
	s.log.Info("collection created", "collection", c.rec.Name, "dim", c.rec.Dim, "metric", c.rec.Metric, "elem", c.rec.Elem,
		"quant", describeQuant(c.rec.Quant), "dir", c.rec.Dir)
	return nil
}

// discardCollection closes and drops a collection made by newCollection
// that the catalog does not list, with its tenant records.
func (s *Server) discardCollection(c *collection) {
	_ = c.ix.Close()
	_ = index.Drop(s.collDir(c.rec), &index.Options{Shared: s.db})
	_ = s.cat.deleteTenants(c.rec.Number)
}

func metricName(m shoalv1.Metric) string {
	if m == shoalv1.Metric_METRIC_UNSPECIFIED {
		m = shoalv1.Metric_METRIC_L2
	}
	return m.String()
}

func elemName(e shoalv1.ElementType) string {
	if e == shoalv1.ElementType_ELEMENT_TYPE_UNSPECIFIED {
		e = shoalv1.ElementType_ELEMENT_TYPE_FLOAT32
	}
	return e.String()
}

// quantName is the API's name of an index's quantization qi (its
// manifest's): "rabitq" with its bits, "" for none.
func quantName(qi *index.QuantInfo) string {
	if qi == nil {
		return ""
	}
	return qi.Kind + strconv.Itoa(qi.Bits)
}

// quantOptions are the index options that make an index quantized as
// qi (an index manifest's) is.
func quantOptions(qi *index.QuantInfo) (index.Quant, int) {
	if qi == nil {
		return index.QuantNone, 0
	}
	return index.QuantRaBitQ, qi.Bits
}

// describeQuant is a record's Quant as the API describes it: "none"
// for rows.
func describeQuant(q string) string {
	if q == "" {
		return "none"
	}
	return q
}

// describe returns the API's view of a collection.
func describe(r collectionRecord, count int) *shoalv1.Collection {
	return &shoalv1.Collection{
		Name: r.Name,
		Config: &shoalv1.CollectionConfig{
			Dim:         uint32(r.Dim),
			Metric:      shoalv1.Metric(shoalv1.Metric_value[r.Metric]),
			ElementType: shoalv1.ElementType(shoalv1.ElementType_value[r.Elem]),
			PostingCap:  uint32(r.PostingCap),
			Replicas:    uint32(r.Replicas),
			DefaultSearch: &shoalv1.SearchParams{
				Nprobe: uint32(r.NProbe), Epsilon: r.Epsilon, Beam: uint32(r.Beam),
			},
			IndexedPayloadFields: slices.Clone(r.IndexedFields),
			Quant:                describeQuant(r.Quant),
		},
		VectorCount:   uint64(count),
		CreatedUnixMs: r.CreatedMs,
	}
}

func (a collectionsAPI) DescribeCollection(ctx context.Context, req *shoalv1.DescribeCollectionRequest) (*shoalv1.Collection, error) {
	c, err := a.acquire(req.GetName())
	if err != nil {
		return nil, err
	}
	defer c.release()
	n, err := visibleLen(ctx, c)
	if err != nil {
		return nil, err
	}
	return describe(c.rec, n), nil
}

// visibleLen is the number of vectors of c the caller may read: all of
// them for the admin key, its tenant's for a tenant key (whose binding
// it checks: keyTenant).
func visibleLen(ctx context.Context, c *collection) (int, error) {
	p := principalOf(ctx)
	if p.admin {
		return c.ix.Len(), nil
	}
	t, err := c.keyTenant(p)
	if err != nil {
		return 0, err
	}
	n, err := c.ix.TenantLen(t)
	if err != nil {
		return 0, indexError(err)
	}
	return n, nil
}

// ListCollections lists every collection to the admin key, and its own
// collection only to a tenant key.
func (a collectionsAPI) ListCollections(ctx context.Context, req *shoalv1.ListCollectionsRequest) (*shoalv1.ListCollectionsResponse, error) {
	names := a.names()
	if p := principalOf(ctx); !p.admin {
		names = []string{p.coll}
	}
	resp := &shoalv1.ListCollectionsResponse{}
	for _, name := range names {
		c, err := a.acquire(name)
		if code := status.Code(err); code == codes.NotFound || code == codes.DataLoss {
			continue // dropped meanwhile, or damaged (not served)
		}
		if err != nil {
			return nil, err
		}
		n, err := visibleLen(ctx, c)
		c.release()
		if err != nil {
			return nil, err
		}
		resp.Collections = append(resp.Collections, describe(c.rec, n))
	}
	return resp, nil
}

func (a collectionsAPI) DropCollection(ctx context.Context, req *shoalv1.DropCollectionRequest) (*shoalv1.DropCollectionResponse, error) {
	if err := checkName("collection", req.GetName()); err != nil {
		return nil, err
	}
	a.ddl.Lock()
	defer a.ddl.Unlock()
	a.mu.RLock()
	c := a.mu.colls[req.GetName()]
	a.mu.RUnlock()
	if c == nil {
		return nil, status.Errorf(codes.NotFound, "collection %q does not exist", req.GetName())
	}
	if err := ctxError(ctx, "the collection was dropped"); err != nil {
		return nil, err
	}
	// Its import jobs fail (a build job at its next read of its file).
	for _, j := range a.imports.runningOn(c.rec.Number) {
		j.cancel(errCollDropped)
	}
	// Wait out the calls using it; new ones find it gone.
	c.mu.Lock()
	c.gone = true
	var cerr error
	if c.ix != nil {
		cerr = c.ix.Close()
	}
	c.mu.Unlock()
	if errors.Is(cerr, index.ErrCorrupt) {
		// Damage is a reason to drop it, not a reason to fail the drop.
		a.log.Warn("dropping a damaged collection", "collection", c.rec.Name, "err", cerr)
		cerr = nil
	}
	a.mu.Lock()
	delete(a.mu.colls, c.rec.Name)
	a.mu.Unlock()
	err := index.Drop(a.collDir(c.rec), &index.Options{Shared: a.db})
	if err == nil {
		err = a.cat.deleteCollection(c.rec.Name)
	}
	if err == nil {
		err = a.cat.deleteTenants(c.rec.Number)
	}
	if err == nil {
		// Its tenants' keys (a crash before leaves them to Open, which
		// deletes keys of unknown collections).
		var revoked []keyRecord
		revoked, err = a.cat.deleteKeys(func(r keyRecord) bool { return !r.legacy() && r.CollNumber == c.rec.Number })
		for _, r := range revoked {
			a.log.Info("API key revoked: its collection is dropped", "key", r.ID, "collection", c.rec.Name, "tenant", r.Tenant)
		}
	}
	if err = errors.Join(cerr, err); err != nil {
		// The catalog still names it; the next Open clears what is left.
		return nil, internal("drop collection %q: %v", c.rec.Name, err)
	}
	a.log.Info("collection dropped", "collection", c.rec.Name, "dir", c.rec.Dir)
	return &shoalv1.DropCollectionResponse{}, nil
}

func (a collectionsAPI) GetStats(ctx context.Context, req *shoalv1.GetStatsRequest) (*shoalv1.CollectionStats, error) {
	c, err := a.acquire(req.GetCollection())
	if err != nil {
		return nil, err
	}
	defer c.release()
	return collectionStats(c), nil
}

func collectionStats(c *collection) *shoalv1.CollectionStats {
	st := c.ix.Stats()
	return &shoalv1.CollectionStats{
		Collection:   c.rec.Name,
		VectorCount:  uint64(st.Live),
		Heads:        uint64(st.Heads),
		Queries:      uint64(st.Queries),
		PostingsRead: uint64(st.PostingsRead),
		VectorsRead:  uint64(st.VectorsRead),
		BytesRead:    uint64(st.ReadBytes),
		ReadOps:      uint64(st.ReadOps),
		CacheHits:    uint64(st.CacheHits),
		CacheMisses:  uint64(st.CacheMisses),
		CacheBytes:   uint64(st.CacheBytes),
		Upserted:     uint64(st.Upserted),
		Deleted:      uint64(st.Deleted),
		TailBytes:    uint64(st.TailBytes),
		Splits:       uint64(st.Splits),
		Merges:       uint64(st.Merges),
		Reassigned:   uint64(st.Reassigned),
	}
}
