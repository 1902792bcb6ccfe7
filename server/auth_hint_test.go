package server_test

import (
	"context"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	shoalv1 "github.com/shoaldb/shoal/proto/shoal/v1"
)

// TestUnauthenticatedSaysWhatToDo: a call without a valid key is
// UNAUTHENTICATED with a message that names the metadata to send and the
// variables the CLI and the server read keys from.
func TestUnauthenticatedSaysWhatToDo(t *testing.T) {
	ts := start(t, "", nil)
	anon := ts.dial("")
	for _, tc := range []struct {
		what string
		ctx  context.Context
		want []string
	}{
		{"no key", context.Background(), []string{`"authorization: Bearer <key>"`, "$SHOAL_API_KEY", "$SHOAL_ADMIN_KEY", "-admin-key"}},
		{"not Bearer", metadata.AppendToOutgoingContext(context.Background(), "authorization", "Basic abc"), []string{`"Bearer <key>"`}},
		{"unknown key", metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer not-a-key-of-this-server"), []string{"CreateAPIKey", "$SHOAL_API_KEY", "$SHOAL_ADMIN_KEY"}},
	} {
		_, err := anon.Collections.ListCollections(tc.ctx, &shoalv1.ListCollectionsRequest{})
		if status.Code(err) != codes.Unauthenticated {
			t.Errorf("%s: %v, want UNAUTHENTICATED", tc.what, err)
			continue
		}
		for _, w := range tc.want {
			if msg := status.Convert(err).Message(); !strings.Contains(msg, w) {
				t.Errorf("%s: message %q does not mention %s", tc.what, msg, w)
			}
		}
	}
}
