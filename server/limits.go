package server

import (
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Response limits (Options.MaxResponseBytes, Options.MaxHits). The size
// of a search's or a get's response is bounded by what the request asks
// for, so a request that could exceed the limit is refused before any
// work, rather than after the work when gRPC refuses to send it (a
// SearchBatch of 10,000 queries × top_k 1,000 with vectors ran 45 s and
// grew the server by 1.8 GiB before that). The bounds are of the
// protobuf encoding, for dimensions up to maxDim:
//
//	a Hit                16 bytes + 4 framing = 20; with its vector
//	                     + 4·dim + 4 (tag and length of values) = 24 + 4·dim
//	a SearchResponse     k × hit, + 8 framing inside a batch
//	a batch              16 + queries × (8 + k × hit) (16: first_query
//	                     and slack); a Search counts as a batch of one
//	a Get                16 + ids × (24 + 4·dim): a found id is a
//	                     Vector (id, values), a missing one a varint
//
// Payloads (include_payload) and a Get's labels and payloads are not
// bounded by the request: responseBudget (payloads.go) counts them as
// they are read and refuses a response that grows past the limit.
//
// The same numbers are in docs/server.md ("Response limits").

// streamMessageBytes is the size SearchBatchStream keeps each message
// under (when Options.MaxResponseBytes is larger): gRPC clients' default
// receive limit.
const streamMessageBytes = 4 << 20

// hitBytes bounds the encoding of one Hit.
func hitBytes(dim int, vectors bool) int64 {
	if vectors {
		return 24 + 4*int64(dim)
	}
	return 20
}

// searchBound bounds the encoding of the response to queries queries of
// top k (a SearchBatchResponse; a SearchResponse is smaller).
func searchBound(queries, k, dim int, vectors bool) int64 {
	return 16 + int64(queries)*(8+int64(k)*hitBytes(dim, vectors))
}

// getBound bounds the encoding of a GetResponse for ids ids.
func getBound(ids, dim int) int64 {
	return 16 + int64(ids)*(24+4*int64(dim))
}

// checkHits refuses a search of more than MaxHits hits.
func (s *Server) checkHits(queries, k int) error {
	if hits := int64(queries) * int64(k); hits > int64(s.opts.MaxHits) {
		return status.Errorf(codes.ResourceExhausted, "%d queries × top_k %d = %d hits: the server answers at most %d per call (split the batch or lower top_k)", queries, k, hits, s.opts.MaxHits)
	}
	return nil
}

// checkResponse refuses a response that could exceed MaxResponseBytes:
// bound is its bound, what names it and hint says what to do instead.
func (s *Server) checkResponse(what string, bound int64, hint string) error {
	if bound > int64(s.opts.MaxResponseBytes) {
		return status.Errorf(codes.ResourceExhausted, "%s could take %d bytes, above the server's response limit of %d bytes (%s)", what, bound, s.opts.MaxResponseBytes, hint)
	}
	return nil
}
