package index

import (
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// Tracing of searches (OpenTelemetry). A search traces only when its
// context carries a recording span (SearchContext under a traced gRPC
// call, for instance): it then starts, as children of that span, one
// span per step:
//
//	route          routing to the nearest heads and pruning them (SPANN §3.3)
//	tails.score    scoring the in-memory tails of the kept postings
//	               (upserted copies not yet folded into them)
//	postings.read  the batched read of the kept postings; each posting is
//	               decoded and scored as its read completes, so the span
//	               holds that scoring too
//
// Without such a span (Search, or a context without one) the steps cost
// one nil check each: no allocation, no clock read.

// TracerName is the instrumentation scope of the index's spans.
const TracerName = "github.com/shoaldb/shoal/index"

// Span names of a search's steps.
const (
	SpanRoute        = "route"
	SpanTailsScore   = "tails.score"
	SpanPostingsRead = "postings.read"
)

// startTrace sets ws.tracer for the search about to run: the tracer of
// the recording span of ws.ctx, or nil.
func (ws *workspace) startTrace() {
	ws.tracer = nil
	if ws.ctx == nil {
		return
	}
	if sp := trace.SpanFromContext(ws.ctx); sp.IsRecording() {
		ws.tracer = sp.TracerProvider().Tracer(TracerName)
	}
}

// span starts the span of one step of the search, or returns nil when the
// search is not traced.
func (ws *workspace) span(name string) trace.Span {
	if ws.tracer == nil {
		return nil
	}
	_, sp := ws.tracer.Start(ws.ctx, name)
	return sp
}

// endRoute ends a route span: the heads kept after pruning, of nprobe
// routed.
func endRoute(sp trace.Span, nprobe, kept int) {
	if sp == nil {
		return
	}
	sp.SetAttributes(attribute.Int("nprobe", nprobe), attribute.Int("postings", kept))
	sp.End()
}

// endTails ends a tails.score span: the tails of the kept postings that
// held copies, and the copies scored.
func endTails(sp trace.Span, tails int, vectors int64) {
	if sp == nil {
		return
	}
	sp.SetAttributes(attribute.Int("tails", tails), attribute.Int64("vectors", vectors))
	sp.End()
}

// endRead ends a postings.read span: postings read, their encoded bytes
// (from the cache or the disk), the vectors scored, and the error if the
// read failed.
func endRead(sp trace.Span, postings int, bytes, vectors int64, err error) {
	if sp == nil {
		return
	}
	sp.SetAttributes(attribute.Int("postings", postings), attribute.Int64("bytes", bytes), attribute.Int64("vectors", vectors))
	if err != nil {
		sp.RecordError(err)
	}
	sp.End()
}
