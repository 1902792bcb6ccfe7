package fleet

import (
	"context"
	"crypto/subtle"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// In cluster mode every call presents the admin key (Options.AdminKey)
// as "authorization: Bearer <key>"; peers present it too. Health checks
// need none.
func (n *Node) authorize(ctx context.Context, method string) error {
	if n.opts.AdminKey == "" || strings.HasPrefix(method, "/grpc.health.v1.") {
		return nil
	}
	md, _ := metadata.FromIncomingContext(ctx)
	for _, v := range md.Get("authorization") {
		key, ok := strings.CutPrefix(v, "Bearer ")
		if ok && subtle.ConstantTimeCompare([]byte(key), []byte(n.opts.AdminKey)) == 1 {
			return nil
		}
	}
	if len(md.Get("authorization")) == 0 {
		return status.Error(codes.Unauthenticated, "no API key: send \"authorization: Bearer <admin key>\" (cluster mode takes the admin key only)")
	}
	return status.Error(codes.PermissionDenied, "not the admin key (cluster mode takes the admin key only)")
}

func (n *Node) authUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	if err := n.authorize(ctx, info.FullMethod); err != nil {
		return nil, err
	}
	return h(ctx, req)
}

func (n *Node) authStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	if err := n.authorize(ss.Context(), info.FullMethod); err != nil {
		return err
	}
	return h(srv, ss)
}
