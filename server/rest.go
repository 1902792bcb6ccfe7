package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	codepb "google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	shoalv1 "github.com/shoaldb/shoal/proto/shoal/v1"
)

// The REST/JSON API: grpc-gateway v2 routes generated from shoal.proto
// and shoal.http.yaml (proto/shoal/v1/shoal.pb.gw.go), served on the
// gRPC port (rest_listen.go). Each REST call is a gRPC call to this
// server over an in-memory connection, so it is authenticated, scoped,
// limited, logged and counted as gRPC calls are; the HTTP status comes
// from the gRPC code (runtime.HTTPStatusFromCode) and an error's body
// is restError. Besides the API routes: GET /openapi.json (the OpenAPI
// document) and GET /healthz (the gRPC health service; no key needed).
// docs/server.md, "REST", lists the routes.

// restGateway is the REST side of one Serve: its handler and the gRPC
// client connection it calls the server through.
type restGateway struct {
	handler http.Handler
	conn    *grpc.ClientConn
}

func (g *restGateway) close() { g.conn.Close() }

// restMarshaler encodes and decodes REST bodies: protojson with the
// proto field names (top_k, vector_count), every field present in
// responses, and unknown fields in requests refused (INVALID_ARGUMENT)
// rather than ignored. 64-bit integers are JSON strings in responses
// and either strings or numbers in requests (protojson).
var restMarshaler = &runtime.JSONPb{
	MarshalOptions:   protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true},
	UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: false},
}

// newRESTGateway returns the REST handler of a Serve whose gRPC
// listener is gl: its gRPC client dials gl in memory.
func (s *Server) newRESTGateway(gl *connQueue) (*restGateway, error) {
	conn, err := grpc.NewClient("passthrough:///rest-gateway",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
			return pipe(ctx, gl)
		}),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		// What the server accepts and sends: the server enforces both.
		grpc.WithDefaultCallOptions(
			grpc.MaxCallSendMsgSize(s.opts.MaxRecvMsgBytes),
			grpc.MaxCallRecvMsgSize(s.opts.MaxResponseBytes),
		),
	)
	if err != nil {
		return nil, fmt.Errorf("server: REST gateway: %w", err)
	}
	mux := runtime.NewServeMux(
		runtime.WithMarshalerOption(runtime.MIMEWildcard, restMarshaler),
		runtime.WithErrorHandler(restErrorHandler),
		runtime.WithHealthzEndpoint(healthpb.NewHealthClient(conn)),
	)
	ctx := context.Background()
	for _, register := range []func(context.Context, *runtime.ServeMux, *grpc.ClientConn) error{
		shoalv1.RegisterCollectionServiceHandler,
		shoalv1.RegisterVectorServiceHandler,
		shoalv1.RegisterTenantServiceHandler,
		shoalv1.RegisterAdminServiceHandler,
	} {
		if err == nil {
			err = register(ctx, mux, conn)
		}
	}
	if err == nil {
		err = mux.HandlePath(http.MethodGet, "/openapi.json", func(w http.ResponseWriter, _ *http.Request, _ map[string]string) {
			w.Header().Set("Content-Type", "application/json")
			w.Write(shoalv1.OpenAPI)
		})
	}
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("server: REST gateway: %w", err)
	}
	return &restGateway{handler: s.restLimit(mux), conn: conn}, nil
}

// restLimit refuses a request body larger than the largest request
// message gRPC accepts (Options.MaxRecvMsgBytes) with 413 and
// RESOURCE_EXHAUSTED, before the gateway decodes it. The JSON of a
// message is larger than its protobuf encoding (a float32 takes 4 bytes
// in protobuf, up to 15 in JSON), so a REST batch holds fewer vectors
// than a gRPC one; the decoded message is held to the same limit again
// by gRPC.
func (s *Server) restLimit(next http.Handler) http.Handler {
	limit := int64(s.opts.MaxRecvMsgBytes)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody {
			next.ServeHTTP(w, r)
			return
		}
		tooLarge := func() {
			writeRESTError(w, http.StatusRequestEntityTooLarge, codes.ResourceExhausted,
				fmt.Sprintf("request body is over the server's limit of %d bytes (its max message size; JSON is larger than protobuf: split the batch or use gRPC)", limit))
		}
		if r.ContentLength > limit {
			tooLarge()
			return
		}
		// Without any key the call will be refused: say so before
		// reading (and holding) a body of up to the limit.
		if s.opts.AdminKey != "" && r.Header.Get("Authorization") == "" {
			w.Header().Set("WWW-Authenticate", "Bearer")
			w.Header().Set("Connection", "close")
			// The server would read what is left of a small body before
			// closing: not a body that never comes.
			http.NewResponseController(w).SetReadDeadline(time.Now())
			writeRESTError(w, http.StatusUnauthorized, codes.Unauthenticated, `no API key: send the header "Authorization: Bearer <key>" (`+keyHint+`)`)
			return
		}
		// The body is read before the key is checked: a client that
		// stops sending it must not hold the connection forever (the
		// HTTP server's deadlines end with the headers).
		rc := http.NewResponseController(w)
		body, err := io.ReadAll(&idleReader{r: http.MaxBytesReader(w, r.Body, limit), rc: rc})
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &mbe):
			tooLarge()
			return
		case err != nil:
			w.Header().Set("Connection", "close")
			writeRESTError(w, http.StatusBadRequest, codes.InvalidArgument, "reading the request body: "+err.Error())
			return
		}
		rc.SetReadDeadline(time.Time{})
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		next.ServeHTTP(w, r)
	})
}

// restBodyIdle is how long a REST request body may go without a byte
// before the request fails and its connection is closed (a variable for
// tests).
var restBodyIdle = 30 * time.Second

// idleReader reads a request body, giving each read restBodyIdle (where
// the connection supports deadlines).
type idleReader struct {
	r  io.Reader
	rc *http.ResponseController
}

func (b *idleReader) Read(p []byte) (int, error) {
	err := b.rc.SetReadDeadline(time.Now().Add(restBodyIdle))
	if err != nil && !errors.Is(err, http.ErrNotSupported) {
		return 0, err
	}
	return b.r.Read(p)
}

// restError is the JSON body of a REST error: the gRPC code as a number
// (as in google.rpc.Status, the OpenAPI document's error schema) and by
// name, and the status message.
type restError struct {
	Code    int32  `json:"code"`
	Status  string `json:"status"` // e.g. "INVALID_ARGUMENT"
	Message string `json:"message"`
}

// restErrorHandler writes a gateway error: the HTTP status from its
// gRPC code (runtime.HTTPStatusFromCode), the body a restError.
func restErrorHandler(_ context.Context, _ *runtime.ServeMux, _ runtime.Marshaler, w http.ResponseWriter, _ *http.Request, err error) {
	httpCode := 0
	var he *runtime.HTTPStatusError
	if errors.As(err, &he) {
		httpCode, err = he.HTTPStatus, he.Err
	}
	st := status.Convert(err)
	if httpCode == 0 {
		httpCode = runtime.HTTPStatusFromCode(st.Code())
	}
	writeRESTError(w, httpCode, st.Code(), st.Message())
}

func writeRESTError(w http.ResponseWriter, httpCode int, code codes.Code, msg string) {
	body, _ := json.Marshal(restError{Code: int32(code), Status: codepb.Code(code).String(), Message: msg})
	h := w.Header()
	h.Del("Trailer")
	h.Set("Content-Type", "application/json")
	if code == codes.Unauthenticated {
		h.Set("WWW-Authenticate", `Bearer realm="shoal"`)
	}
	w.WriteHeader(httpCode)
	w.Write(append(body, '\n'))
}
