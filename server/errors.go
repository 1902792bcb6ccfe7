package server

import (
	"context"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"unicode/utf8"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/shoaldb/shoal/index"
	shoalv1 "github.com/shoaldb/shoal/proto/shoal/v1"
)

// indexError turns an error of package index into a gRPC status whose
// code says whose fault it was and whose message says what was wrong.
func indexError(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	code := codes.Internal
	switch {
	case errors.Is(err, index.ErrDimensionMismatch),
		errors.Is(err, index.ErrNotFinite),
		errors.Is(err, index.ErrBadInput),
		errors.Is(err, index.ErrInvalidOptions):
		code = codes.InvalidArgument
	case errors.Is(err, index.ErrNotFound), errors.Is(err, index.ErrUnknownTenant):
		code = codes.NotFound
	case errors.Is(err, index.ErrTenantExists):
		code = codes.AlreadyExists
	case errors.Is(err, index.ErrNotOwned):
		code = codes.PermissionDenied
	case errors.Is(err, index.ErrCorrupt):
		// Stored data failed its checks (or maintenance stopped on it):
		// this collection's, not the server's; others keep serving.
		code = codes.DataLoss
	case errors.Is(err, index.ErrBusy):
		// Writes outran maintenance: the caller backs off and retries.
		code = codes.ResourceExhausted
	case errors.Is(err, index.ErrClosed):
		code = codes.Unavailable
	case errors.Is(err, context.DeadlineExceeded):
		code = codes.DeadlineExceeded
	case errors.Is(err, context.Canceled):
		code = codes.Canceled
	}
	return status.Error(code, err.Error())
}

// ctxError returns the status of a context that is done, or nil.
func ctxError(ctx context.Context, what string) error {
	switch err := ctx.Err(); {
	case err == nil:
		return nil
	case errors.Is(err, context.DeadlineExceeded):
		return status.Errorf(codes.DeadlineExceeded, "deadline passed before %s", what)
	default:
		return status.Errorf(codes.Canceled, "call cancelled before %s", what)
	}
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)

// checkName checks a collection or tenant name.
func checkName(kind, name string) error {
	if !nameRE.MatchString(name) {
		if name == "" {
			return status.Errorf(codes.InvalidArgument, "%s name is empty", kind)
		}
		return status.Errorf(codes.InvalidArgument, "%s name %s: want 1 to 64 characters of A-Z a-z 0-9 _ -, starting with a letter or digit", kind, clip(name))
	}
	return nil
}

// checkBatch checks the size of a batch of n items (at least one).
func (s *Server) checkBatch(what string, n int) error {
	switch {
	case n == 0:
		return status.Errorf(codes.InvalidArgument, "no %s in the request", what)
	case n > s.opts.MaxBatch:
		return status.Errorf(codes.ResourceExhausted, "%d %s in one request: the server takes at most %d (split the batch)", n, what, s.opts.MaxBatch)
	}
	return nil
}

// CheckVector checks that v has dim finite values; what names it in the
// InvalidArgument status it returns otherwise. Cluster mode's router
// (package fleet) checks writes with it before they are logged.
func CheckVector(what string, v []float32, dim int) error {
	if len(v) != dim {
		return status.Errorf(codes.InvalidArgument, "%s has %d values, the collection's dimension is %d", what, len(v), dim)
	}
	for i, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return status.Errorf(codes.InvalidArgument, "%s: value %d is %v (values must be finite)", what, i, x)
		}
	}
	return nil
}

// maxEcho bounds the bytes of a request's text (a name, a path, a
// filter) that an error message repeats.
const maxEcho = 64

// clip quotes s for an error message, cut to maxEcho bytes (at a rune
// boundary) with the length of the whole when longer: a message stays
// short whatever the request held.
func clip(s string) string {
	if len(s) <= maxEcho {
		return strconv.Quote(s)
	}
	cut := maxEcho
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s... (%d bytes)", strconv.Quote(s[:cut]), len(s))
}

// maxEchoMessage bounds the bytes of another component's message (a
// parser's) that an error message repeats.
const maxEchoMessage = 256

// clipMessage cuts msg, a message of another component that may quote
// the request, to maxEchoMessage bytes (at a rune boundary).
func clipMessage(msg string) string {
	if len(msg) <= maxEchoMessage {
		return msg
	}
	cut := maxEchoMessage
	for cut > 0 && !utf8.RuneStart(msg[cut]) {
		cut--
	}
	return msg[:cut] + "..."
}

// checkTenantName checks the tenant a data call names: empty (none, or
// the key's own) or a valid name.
func checkTenantName(name string) error {
	if name == "" {
		return nil
	}
	return checkName("tenant", name)
}

// Bounds of SearchParams, in a search and in a collection's
// default_search: more is InvalidArgument.
const (
	maxNProbe = 1 << 16
	maxBeam   = 1 << 16
)

// checkSearchParams checks search knobs (p may be nil); what names them
// in the message.
func checkSearchParams(what string, p *shoalv1.SearchParams) error {
	switch {
	case p.GetNprobe() > maxNProbe:
		return status.Errorf(codes.InvalidArgument, "%s.nprobe %d above the maximum %d", what, p.GetNprobe(), maxNProbe)
	case p.GetBeam() > maxBeam:
		return status.Errorf(codes.InvalidArgument, "%s.beam %d above the maximum %d", what, p.GetBeam(), maxBeam)
	case math.IsNaN(p.GetEpsilon()) || math.IsInf(p.GetEpsilon(), 0):
		return status.Errorf(codes.InvalidArgument, "%s.epsilon is %v: want a finite number (0 for the default, negative to disable pruning)", what, p.GetEpsilon())
	}
	return nil
}

// internal logs nothing itself: the logging interceptor reports Internal
// errors at Warn.
func internal(format string, args ...any) error {
	return status.Error(codes.Internal, fmt.Sprintf(format, args...))
}
