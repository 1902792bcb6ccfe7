package server

import (
	"fmt"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/shoaldb/shoal/index"
)

// TestIndexErrorCodes: each class of index error gets its status code,
// through any wrapping; corruption is DATA_LOSS, not INTERNAL.
func TestIndexErrorCodes(t *testing.T) {
	for _, tc := range []struct {
		err  error
		code codes.Code
	}{
		{index.ErrBadInput, codes.InvalidArgument},
		{index.ErrDimensionMismatch, codes.InvalidArgument},
		{index.ErrNotFound, codes.NotFound},
		{index.ErrUnknownTenant, codes.NotFound},
		{index.ErrTenantExists, codes.AlreadyExists},
		{index.ErrCorrupt, codes.DataLoss},
		{fmt.Errorf("shoal: writes refused, background maintenance stopped: %w", fmt.Errorf("%w: posting 3", index.ErrCorrupt)), codes.DataLoss},
		{index.ErrClosed, codes.Unavailable},
		{fmt.Errorf("%w: 70 MiB of upserted copies wait", index.ErrBusy), codes.ResourceExhausted},
		{fmt.Errorf("disk on fire"), codes.Internal},
	} {
		if got := status.Code(indexError(fmt.Errorf("call: %w", tc.err))); got != tc.code {
			t.Errorf("indexError(%v) = %v, want %v", tc.err, got, tc.code)
		}
	}
}
