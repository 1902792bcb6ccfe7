// Package server is Shoal's gRPC vector database server (API shoal.v1,
// package proto/shoal/v1): collections, vectors, search, tenants, API
// keys and stats over one shared Pebble database (DESIGN.md: one Pebble
// instance per data directory).
//
//	s, err := server.Open(&server.Options{DataDir: dir, AdminKey: key})
//	go s.Serve(lis)
//	...
//	s.Shutdown(ctx) // GracefulStop, then Stop at the deadline; closes everything
//
// It uses package index's public API only. Every call passes through
// interceptors that recover panics, log (log/slog), authenticate the
// API key, check the key's role for the method and refuse calls whose
// deadline has passed; handlers then check the request (sizes, names,
// tenant scope) and map index errors to gRPC status codes (errors.go).
//
// # Concurrency
//
// A Server serves any number of calls at once. Each collection is an
// open index.Index; calls hold the collection's lock shared while they
// use it, DropCollection and Close hold it exclusively, so an index is
// never closed under a call. Changes of the catalog (create, drop) are
// serialised by Server.ddl; an import job that built a collection
// offline swaps its index in (and rewrites its record) holding the
// collection exclusively (imports_build.go).
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"

	"github.com/shoaldb/shoal/index"
	// Registers the zstd and s2 compressors: a request compressed with
	// either is accepted and answered in the same one.
	_ "github.com/shoaldb/shoal/internal/grpccomp"
	shoalv1 "github.com/shoaldb/shoal/proto/shoal/v1"
)

// Server is a Shoal gRPC server over one data directory.
type Server struct {
	opts    Options
	log     *slog.Logger
	db      *index.SharedDB
	cat     *catalog
	grpc    *grpc.Server
	health  *health.Server
	started time.Time
	calls   callMetrics // the registry and the call metrics (metrics.go)
	trace   *tracing    // nil while tracing is off (trace.go)
	imports imports     // bulk import jobs (imports.go)
	// ddl serialises CreateCollection and DropCollection.
	ddl sync.Mutex
	mu  struct {
		sync.RWMutex
		colls  map[string]*collection
		closed bool
	}
}

// collection is an open collection. mu is held shared by calls that use
// ix and exclusively by DropCollection and Close; gone is set under the
// exclusive lock when the index is closed.
type collection struct {
	rec  collectionRecord
	mu   sync.RWMutex
	ix   *index.Index
	gone bool
	// damaged is why the collection failed its checks when the server
	// opened it (an error wrapping index.ErrCorrupt); ix is then nil, and
	// every call but a drop is DataLoss while the others keep serving.
	damaged error
	// wmu is held shared by every call that changes the collection's
	// vectors or tenants while it changes them (writing), and
	// exclusively by an import job as it claims the collection for an
	// offline build (imports_build.go). Snapshots do not take it: their
	// cut is the index's (snapshot.go). Lock order: mu, wmu, tmu.
	wmu sync.RWMutex
	// tmu guards tenants (name → the index's tenant number) and is held
	// across a tenant's creation or deletion (tenants.go), and by a
	// snapshot around its cut (snapshot.go). Lock order: mu, wmu, tmu.
	tmu     sync.Mutex
	tenants map[string]uint32
	// building is the import job building the collection's index
	// offline (imports_build.go), nil if none: set while c.wmu is held
	// exclusively, cleared when the job ends. While it is set, writes
	// are refused (writing).
	building atomic.Pointer[importJob]
}

// writing holds c.wmu shared for a write; call the returned func when
// the write is done. While an import job builds the collection, writes
// are refused with FailedPrecondition: the build would not hold them.
func (c *collection) writing() (func(), error) {
	c.wmu.RLock()
	if j := c.building.Load(); j != nil {
		c.wmu.RUnlock()
		return nil, status.Errorf(codes.FailedPrecondition, "collection %s is being loaded by import job %s (an offline build, swapped in when complete): writes are refused until the job ends (GetImport)", clip(c.rec.Name), j.id)
	}
	return c.wmu.RUnlock, nil
}

// Open opens (or creates) the data directory, reopens every collection of
// the catalog, and returns a Server ready to Serve.
func Open(o *Options) (*Server, error) {
	var opts Options
	if o != nil {
		opts = *o
	}
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(opts.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("server: data directory: %w", err)
	}
	if err := os.MkdirAll(opts.ImportDir, 0o755); err != nil {
		return nil, fmt.Errorf("server: import directory: %w", err)
	}
	if err := os.MkdirAll(opts.SnapshotDir, 0o755); err != nil {
		return nil, fmt.Errorf("server: snapshot directory: %w", err)
	}
	db, err := index.OpenSharedDB(opts.DataDir)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	s := &Server{opts: opts, log: opts.Logger, db: db, started: time.Now()}
	s.mu.colls = make(map[string]*collection)
	if s.cat, err = openCatalog(db); err == nil {
		err = s.openCollections()
	}
	if err == nil {
		err = os.MkdirAll(s.spoolDir(), 0o755)
	}
	if err == nil {
		err = s.loadImports()
	}
	if err == nil {
		s.cleanSnapshotTemps()
		s.cleanRestoreTemps()
		err = s.setupTracing()
	}
	if err != nil {
		s.closeAll()
		return nil, err
	}
	s.initMetrics()
	s.grpc = grpc.NewServer(s.serverOptions()...)
	shoalv1.RegisterCollectionServiceServer(s.grpc, collectionsAPI{Server: s})
	shoalv1.RegisterVectorServiceServer(s.grpc, vectorsAPI{Server: s})
	shoalv1.RegisterTenantServiceServer(s.grpc, tenantsAPI{Server: s})
	shoalv1.RegisterAdminServiceServer(s.grpc, adminAPI{Server: s})
	s.health = health.NewServer()
	healthpb.RegisterHealthServer(s.grpc, s.health)
	reflection.Register(s.grpc)
	for name := range s.grpc.GetServiceInfo() {
		s.health.SetServingStatus(name, healthpb.HealthCheckResponse_SERVING)
	}
	if opts.AdminKey == "" {
		s.log.Warn("authentication is off: every caller is admin (set an admin key)")
	}
	return s, nil
}

func (s *Server) serverOptions() []grpc.ServerOption {
	opts := []grpc.ServerOption{
		grpc.MaxRecvMsgSize(s.opts.MaxRecvMsgBytes),
		// Searches and gets are refused up front when their response
		// could be larger (limits.go); this catches the rest.
		grpc.MaxSendMsgSize(s.opts.MaxResponseBytes),
		// metricsUnary and metricsStream call the authenticating
		// interceptors in auth.go.
		grpc.ChainUnaryInterceptor(s.metricsUnary),
		grpc.ChainStreamInterceptor(s.metricsStream),
		// Stop waits for handlers to return, so nothing uses an index
		// that Close is about to close.
		grpc.WaitForHandlers(true),
		// An idle connection (no call in flight) is sent a GOAWAY after
		// IdleTimeout; its client redials when it next calls. Clients'
		// keepalive pings are allowed every 10 s, also between calls.
		grpc.KeepaliveParams(keepalive.ServerParameters{MaxConnectionIdle: s.opts.IdleTimeout}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}),
	}
	if s.opts.TLS != nil {
		// The connection router does the handshake (rest_listen.go).
		opts = append(opts, grpc.Creds(muxTLSCreds{credentials.NewTLS(s.opts.TLS)}))
	}
	return append(opts, s.traceOptions()...)
}

// openCollections opens the collections of the catalog, and clears what
// an interrupted create or drop left behind.
func (s *Server) openCollections() error {
	recs, err := s.cat.collections()
	if err != nil {
		return err
	}
	known := map[string]bool{}
	numbers := map[uint64]bool{}
	for _, r := range recs {
		ix, err := index.Open(s.collDir(r), s.indexOptions(r))
		if errors.Is(err, index.ErrNoIndex) {
			s.log.Warn("collection lost its index (a drop was cut short); removing it from the catalog", "collection", r.Name, "err", err)
			if err := s.cat.deleteCollection(r.Name); err != nil {
				return err
			}
			continue
		}
		if errors.Is(err, index.ErrCorrupt) {
			// Damage is this collection's, not the server's: serve the
			// others; calls to it are DataLoss until it is dropped (or
			// repaired and the server restarted).
			s.log.Error("collection is damaged and not served: drop it, or stop the server and run shoal repair / restore a snapshot", "collection", r.Name, "err", err)
			known[r.Dir] = true
			numbers[r.Number] = true
			s.mu.colls[r.Name] = &collection{rec: r, damaged: err, tenants: map[string]uint32{}}
			continue
		}
		if err != nil {
			return fmt.Errorf("server: open collection %s: %w", r.Name, err)
		}
		// The index says what its postings hold (a record written
		// before quantized postings does not).
		r.Quant = quantName(ix.Manifest().Quant)
		c := &collection{rec: r, ix: ix}
		if err := s.loadTenants(c); err != nil {
			ix.Close()
			return fmt.Errorf("server: tenants of collection %s: %w", r.Name, err)
		}
		known[r.Dir] = true
		numbers[r.Number] = true
		s.mu.colls[r.Name] = c
	}
	// Tenant records and tenant sequences of collections dropped by a
	// drop cut short.
	var stale []uint64
	for _, prefix := range []string{prefixTenant, prefixSeqTenant} {
		err = s.db.ScanPrefix([]byte(prefix), func(k, _ []byte) error {
			num, _, _ := strings.Cut(strings.TrimPrefix(string(k), prefix), "/")
			n, err := strconv.ParseUint(num, 10, 64)
			if err != nil {
				return fmt.Errorf("server: catalog key %q: %w", k, err)
			}
			if !numbers[n] && !slices.Contains(stale, n) {
				stale = append(stale, n)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	for _, n := range stale {
		if err == nil {
			err = s.cat.deleteTenants(n)
		}
	}
	if err == nil {
		err = s.pruneKeys()
	}
	if err != nil {
		return err
	}
	for _, ns := range s.db.Namespaces() {
		if isCollectionDir(ns) && !known[ns] {
			s.log.Warn("dropping a collection directory without a catalog record (a create was cut short)", "dir", ns)
			if err := index.Drop(filepath.Join(s.db.Dir(), filepath.FromSlash(ns)), &index.Options{Shared: s.db}); err != nil {
				return fmt.Errorf("server: drop orphan %s: %w", ns, err)
			}
		}
	}
	s.log.Info("data directory open", "dir", s.opts.DataDir, "collections", len(s.mu.colls))
	return nil
}

// pruneKeys deletes the keys whose tenant or collection is gone (a
// tenant delete or collection drop cut short) and warns of keys made
// before keys were bound to a collection, which are kept (listed, to be
// revoked) but no longer authenticate. The caller holds every
// collection (Open).
func (s *Server) pruneKeys() error {
	live := map[uint64]*collection{}
	for _, c := range s.mu.colls {
		live[c.rec.Number] = c
	}
	for _, r := range s.cat.listKeys() {
		if r.legacy() {
			s.log.Warn("API key made before keys were bound to a collection: it no longer authenticates; revoke it and make a new one", "key", r.ID, "tenant", r.Tenant)
		}
	}
	gone, err := s.cat.deleteKeys(func(r keyRecord) bool {
		if r.legacy() {
			return false
		}
		c := live[r.CollNumber]
		return c == nil || c.tenants[r.Tenant] != r.TenantID
	})
	for _, r := range gone {
		s.log.Warn("deleting an API key whose tenant or collection is gone (a delete or drop was cut short)", "key", r.ID, "collection", r.Collection, "tenant", r.Tenant)
	}
	return err
}

// collDir returns the directory of a collection.
func (s *Server) collDir(r collectionRecord) string {
	return filepath.Join(s.db.Dir(), filepath.FromSlash(r.Dir))
}

// indexOptions are the options a collection's index is opened with.
func (s *Server) indexOptions(r collectionRecord) *index.Options {
	return &index.Options{
		Shared:          s.db,
		CacheBytes:      s.opts.CacheBytes,
		WriteStall:      s.opts.WriteStall,
		MaxPayloadBytes: s.opts.MaxPayloadBytes,
		Search:          index.SearchParams{NProbe: r.NProbe, Epsilon: r.Epsilon, Beam: r.Beam},
	}
}

// Serve accepts connections on lis until Shutdown or Close: gRPC, and
// the REST/JSON gateway on the same port (rest_listen.go). It returns
// nil after a Shutdown.
func (s *Server) Serve(lis net.Listener) error {
	s.log.Info("serving", "addr", lis.Addr().String(), "tls", s.opts.TLS != nil, "rest", true)
	err := s.serveMux(lis)
	if errors.Is(err, grpc.ErrServerStopped) {
		return nil
	}
	return err
}

// Shutdown stops the server: health turns NOT_SERVING, new calls are
// refused, calls in flight may finish (GracefulStop) until ctx is done or
// Options.ShutdownGrace has passed, whichever comes first; then the
// remaining calls are cancelled (Stop). Finally every collection and the
// database are closed.
func (s *Server) Shutdown(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.opts.ShutdownGrace)
	defer cancel()
	s.health.Shutdown()
	done := make(chan struct{})
	go func() {
		s.grpc.GracefulStop()
		close(done)
	}()
	select {
	case <-done:
		s.log.Info("stopped gracefully")
	case <-ctx.Done():
		s.log.Warn("shutdown grace over: cancelling calls in flight")
		s.grpc.Stop()
		<-done
	}
	return s.closeAll()
}

// Close stops the server at once (Stop) and closes everything.
func (s *Server) Close() error {
	s.grpc.Stop()
	return s.closeAll()
}

// closeAll cancels the import jobs and waits for them, then closes every
// collection, then the database.
func (s *Server) closeAll() error {
	s.imports.stop()
	s.mu.Lock()
	if s.mu.closed {
		s.mu.Unlock()
		return nil
	}
	s.mu.closed = true
	colls := s.mu.colls
	s.mu.colls = nil
	s.mu.Unlock()
	var errs []error
	for _, c := range colls {
		c.mu.Lock()
		if !c.gone && c.ix != nil {
			errs = append(errs, c.ix.Close())
		}
		c.gone = true
		c.mu.Unlock()
	}
	errs = append(errs, s.db.Close(), s.stopTracing())
	return errors.Join(errs...)
}

// acquire returns the open collection name, held shared: the caller must
// call release. Unknown collections are NotFound.
func (s *Server) acquire(name string) (*collection, error) {
	if name == "" {
		return nil, status.Error(codes.InvalidArgument, "collection name is empty")
	}
	s.mu.RLock()
	closed := s.mu.closed
	c := s.mu.colls[name]
	s.mu.RUnlock()
	switch {
	case closed:
		return nil, status.Error(codes.Unavailable, "server is shutting down")
	case c == nil:
		return nil, status.Errorf(codes.NotFound, "collection %s does not exist", clip(name))
	}
	c.mu.RLock()
	if c.gone {
		c.mu.RUnlock()
		return nil, status.Errorf(codes.NotFound, "collection %s does not exist (dropped)", clip(name))
	}
	if c.damaged != nil {
		c.mu.RUnlock()
		return nil, status.Errorf(codes.DataLoss, "collection %s failed its checks when the server started and is not served (see the server log): drop it or restore it from a snapshot", clip(name))
	}
	return c, nil
}

func (c *collection) release() { c.mu.RUnlock() }

// names returns the names of the open collections, sorted.
func (s *Server) names() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]string, 0, len(s.mu.colls))
	for name := range s.mu.colls {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}
