// Package shoalv1 is the generated Go code of the Shoal gRPC API,
// shoal.v1 (shoal.proto). Regenerate it with `go generate ./proto/...`
// after editing shoal.proto; README.md names the tool versions.
package shoalv1

//go:generate protoc --proto_path=. --go_out=. --go_opt=paths=source_relative --go-grpc_out=. --go-grpc_opt=paths=source_relative shoal.proto
