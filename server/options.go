package server

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"go.opentelemetry.io/otel/trace"
)

// Options configure a Server. The zero value is usable once DataDir is
// set: every other field has a documented default, filled by
// EnsureDefaults.
type Options struct {
	// DataDir is the server's data directory: one shared Pebble database
	// (the catalog of collections and API keys, and every collection's
	// records) and a sub-directory per collection. Required; created if
	// missing.
	DataDir string
	// AdminKey is the API key that may do anything. Empty disables
	// authentication: every caller is admin (for local use only; tenant
	// keys are then not checked either).
	AdminKey string
	// TLS, if set, serves TLS with this configuration (certificate
	// included); nil serves plaintext.
	TLS *tls.Config
	// MaxBatch bounds the vectors of one upsert message, the ids of one
	// delete or get, and the queries of one search batch; more is
	// ResourceExhausted. Default 10,000.
	MaxBatch int
	// MaxTopK bounds a search's top_k; more is InvalidArgument. Default
	// 1,000.
	MaxTopK int
	// MaxRecvMsgBytes bounds the size of one request message; more is
	// ResourceExhausted (enforced by gRPC). Default 64 MiB.
	MaxRecvMsgBytes int
	// MaxResponseBytes bounds the size of one response message. A
	// Search, SearchBatch or Get whose response could exceed it,
	// predicted from the request (responseBound, limits.go), is
	// ResourceExhausted before any work; each message of
	// SearchBatchStream stays under it; any other response above it
	// fails with ResourceExhausted (enforced by gRPC). Default 64 MiB.
	MaxResponseBytes int
	// MaxHits bounds top_k × queries of one search call (Search,
	// SearchBatch, SearchBatchStream): more is ResourceExhausted before
	// any search. It bounds a batch's work and memory as
	// MaxResponseBytes bounds its size. Default 1,000,000.
	MaxHits int
	// MaxPayloadBytes bounds one vector's payload, as compact JSON: a
	// larger one is InvalidArgument naming the vector, and nothing of
	// the request is stored (payloads.go). Default 64 KiB
	// (DefaultMaxPayloadBytes).
	MaxPayloadBytes int
	// CacheBytes is each collection's posting cache (the memory budget
	// for its posting bytes). Default 16 MiB; negative disables it.
	CacheBytes int64
	// WriteStall bounds how long a write waits for a collection's
	// background maintenance to catch up when upserts outrun it (its
	// posting tails are over twice their budget); past it the write is
	// refused with ResourceExhausted and nothing is written, so that
	// callers back off instead of running into their deadlines while
	// searches keep being served. Default 1 s.
	WriteStall time.Duration
	// SnapshotDir is the directory CreateSnapshot writes snapshots under
	// and RestoreSnapshot reads them from (a request names a relative
	// path in it). Default DataDir/snapshots.
	SnapshotDir string
	// ImportDir is the directory AdminService.StartImport reads vector
	// files from: a request's path must lie in it once symbolic links
	// and .. are resolved (else PermissionDenied). Created by Open if
	// missing. Default DataDir/import.
	ImportDir string
	// ImportBuildMinRows is the fewest rows for which an import job of
	// method AUTO builds an empty collection offline (imports_build.go)
	// rather than upserting the rows: below it the build's fixed costs
	// (clustering, opening the built index) outweigh what it saves.
	// Default DefaultImportBuildMinRows (docs/BENCHMARKS.md, "Ingest:
	// bulk import").
	ImportBuildMinRows int
	// TracerProvider, if set, receives the server's spans (trace.go): a
	// span per gRPC call and, under a Search, one per index step; the
	// caller owns it (the server does not shut it down). Nil: tracing
	// follows the standard OTEL_ environment (docs/server.md, "Tracing"),
	// and is off when that does not ask for traces.
	TracerProvider trace.TracerProvider
	// IdleTimeout closes a gRPC connection that has had no call in flight
	// for this long (with a GOAWAY: its client redials when it next
	// calls), so idle and unauthenticated connections are not held
	// forever. Default 15 minutes. (REST connections close after 2
	// minutes idle between requests.)
	IdleTimeout time.Duration
	// ShutdownGrace is how long Shutdown lets calls in flight finish
	// (GracefulStop) before it cancels them (Stop), when its context has
	// no earlier deadline. Default 10 s.
	ShutdownGrace time.Duration
	// Logger receives the server's structured logs: one line per call at
	// Debug (Warn for failures that are the server's, Info for the
	// rest), and lifecycle events at Info. Default slog.Default().
	Logger *slog.Logger
}

// Defaults of Options.
const (
	DefaultMaxBatch         = 10_000
	DefaultMaxTopK          = 1_000
	DefaultMaxRecvMsgBytes  = 64 << 20
	DefaultMaxResponseBytes = 64 << 20
	DefaultMaxHits          = 1_000_000
	DefaultMaxPayloadBytes  = 64 << 10
	DefaultCacheBytes       = 16 << 20
	DefaultShutdownGrace    = 10 * time.Second
	DefaultIdleTimeout      = 15 * time.Minute
	DefaultWriteStall       = time.Second
	// DefaultImportBuildMinRows is Options.ImportBuildMinRows's default.
	DefaultImportBuildMinRows = 1_000
)

// EnsureDefaults fills unset fields with their defaults.
func (o *Options) EnsureDefaults() {
	if o.MaxBatch <= 0 {
		o.MaxBatch = DefaultMaxBatch
	}
	if o.MaxTopK <= 0 {
		o.MaxTopK = DefaultMaxTopK
	}
	if o.MaxRecvMsgBytes <= 0 {
		o.MaxRecvMsgBytes = DefaultMaxRecvMsgBytes
	}
	if o.MaxResponseBytes <= 0 {
		o.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if o.MaxHits <= 0 {
		o.MaxHits = DefaultMaxHits
	}
	if o.MaxPayloadBytes <= 0 {
		o.MaxPayloadBytes = DefaultMaxPayloadBytes
	}
	if o.CacheBytes == 0 {
		o.CacheBytes = DefaultCacheBytes
	}
	if o.WriteStall <= 0 {
		o.WriteStall = DefaultWriteStall
	}
	if o.ImportBuildMinRows <= 0 {
		o.ImportBuildMinRows = DefaultImportBuildMinRows
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.ShutdownGrace <= 0 {
		o.ShutdownGrace = DefaultShutdownGrace
	}
	if o.SnapshotDir == "" && o.DataDir != "" {
		o.SnapshotDir = filepath.Join(o.DataDir, "snapshots")
	}
	if o.ImportDir == "" && o.DataDir != "" {
		o.ImportDir = filepath.Join(o.DataDir, "import")
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// ErrInvalidOptions reports options that cannot work.
var ErrInvalidOptions = errors.New("server: invalid options")

// Validate reports options that cannot work. Call it after
// EnsureDefaults.
func (o *Options) Validate() error {
	switch {
	case o.DataDir == "":
		return fmt.Errorf("%w: DataDir is required", ErrInvalidOptions)
	case o.AdminKey != "" && len(o.AdminKey) < 16:
		return fmt.Errorf("%w: AdminKey of %d characters, want at least 16", ErrInvalidOptions, len(o.AdminKey))
	case o.TLS != nil && len(o.TLS.Certificates) == 0 && o.TLS.GetCertificate == nil:
		return fmt.Errorf("%w: TLS without a certificate", ErrInvalidOptions)
	}
	return nil
}
