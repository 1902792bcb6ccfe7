package server

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// logCall starts the log record of a call; the returned func finishes it
// with the call's error, and counts the call in the metrics. Successful calls log at Debug, failures the
// caller caused at Info, the server's own (Internal, Unknown, DataLoss,
// Unavailable) at Warn.
func (s *Server) logCall(ctx context.Context, method string) func(principal, *error) {
	start := time.Now()
	return func(p principal, errp *error) {
		err := *errp
		code := status.Code(err)
		took := time.Since(start)
		s.calls.observe(method, code, took)
		level := slog.LevelDebug
		switch code {
		case codes.OK:
		case codes.Internal, codes.Unknown, codes.DataLoss, codes.Unavailable:
			level = slog.LevelWarn
		default:
			level = slog.LevelInfo
		}
		if !s.log.Enabled(ctx, level) {
			return
		}
		attrs := []slog.Attr{
			slog.String("method", method),
			slog.String("code", code.String()),
			slog.Duration("took", took),
		}
		if p != (principal{}) {
			attrs = append(attrs, slog.String("principal", p.String()))
		}
		if pr, ok := peer.FromContext(ctx); ok && pr.Addr != nil {
			attrs = append(attrs, slog.String("peer", pr.Addr.String()))
		}
		if err != nil {
			attrs = append(attrs, slog.String("err", status.Convert(err).Message()))
		}
		s.log.LogAttrs(ctx, level, "call", attrs...)
	}
}

// recoverPanic turns a handler's panic (a server bug) into an Internal
// error, logged with its stack, so that one bad call does not take the
// server down.
func (s *Server) recoverPanic(method string, errp *error) {
	if r := recover(); r != nil {
		s.log.Error("panic in handler", "method", method, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
		*errp = status.Errorf(codes.Internal, "internal error in %s (logged by the server)", method)
	}
}
