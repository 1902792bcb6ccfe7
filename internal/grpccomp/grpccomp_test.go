package grpccomp

import (
	"bytes"

	"io"
	"math"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/klauspost/compress/zstd"
	"google.golang.org/grpc/encoding"
	"google.golang.org/protobuf/proto"

	shoalv1 "github.com/shoaldb/shoal/proto/shoal/v1"
)

// gloveLike returns n vectors of dim floats shaped like GloVe's: 64
// clusters, centre N(0, 0.4), spread N(0, 0.15), rounded to 5 decimals
// as GloVe's text files are.
func gloveLike(seed uint64, n, dim int) [][]float32 {
	r := rand.New(rand.NewPCG(seed, 1))
	centres := make([][]float64, 64)
	for i := range centres {
		centres[i] = make([]float64, dim)
		for j := range centres[i] {
			centres[i][j] = r.NormFloat64() * 0.4
		}
	}
	out := make([][]float32, n)
	for i := range out {
		c := centres[r.IntN(len(centres))]
		out[i] = make([]float32, dim)
		for j := range out[i] {
			out[i][j] = float32(math.Round((c[j]+r.NormFloat64()*0.15)*1e5) / 1e5)
		}
	}
	return out
}

// upsertMessage is a marshalled UpsertRequest of n GloVe-like 100-d
// vectors.
func upsertMessage(tb testing.TB, n int) []byte {
	req := &shoalv1.UpsertRequest{Collection: "glove"}
	for i, v := range gloveLike(7, n, 100) {
		req.Vectors = append(req.Vectors, &shoalv1.Vector{Id: uint64(i) * 7919, Values: v})
	}
	b, err := proto.Marshal(req)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func compress(tb testing.TB, c encoding.Compressor, p []byte) []byte {
	var buf bytes.Buffer
	w, err := c.Compress(&buf)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := w.Write(p); err != nil {
		tb.Fatal(err)
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

func decompress(c encoding.Compressor, p []byte) ([]byte, error) {
	r, err := c.Decompress(bytes.NewReader(p))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

func TestRegistered(t *testing.T) {
	for _, name := range Names {
		if c := encoding.GetCompressor(name); c == nil || c.Name() != name {
			t.Errorf("compressor %q: got %v, want it registered under its name", name, c)
		}
	}
}

// TestRoundTrip compresses and decompresses awkward lengths, reusing
// pooled encoders and decoders.
func TestRoundTrip(t *testing.T) {
	msg := upsertMessage(t, 3000) // > 1 MiB: several s2 blocks
	for _, name := range Names {
		c := encoding.GetCompressor(name)
		for _, n := range []int{0, 1, 3, 7, 16, 17, 1025, 64 << 10, len(msg)} {
			for round := range 2 {
				got, err := decompress(c, compress(t, c, msg[:n]))
				if err != nil || !bytes.Equal(got, msg[:n]) {
					t.Fatalf("%s, %d bytes, round %d: got %d bytes, err %v; want the input back", name, n, round, len(got), err)
				}
			}
		}
	}
}

// TestConcurrent runs compressions and decompressions at once (run with
// -race).
func TestConcurrent(t *testing.T) {
	msg := upsertMessage(t, 200)
	for _, name := range Names {
		c := encoding.GetCompressor(name)
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				for i := range 20 {
					p := msg[:(g*977+i*131)%len(msg)]
					got, err := decompress(c, compress(t, c, p))
					if err != nil || !bytes.Equal(got, p) {
						t.Errorf("%s: round trip of %d bytes: got %d bytes, err %v", name, len(p), len(got), err)
						return
					}
				}
			})
		}
		wg.Wait()
	}
}

// TestCorrupt decodes damaged streams: an error, never a panic, and the
// pooled decoder still works after.
func TestCorrupt(t *testing.T) {
	msg := upsertMessage(t, 50)
	for _, name := range Names {
		c := encoding.GetCompressor(name)
		z := compress(t, c, msg)
		for _, bad := range [][]byte{nil, {0}, []byte("not compressed at all"), z[:len(z)/2], flip(z, len(z)/3), flip(z, 4)} {
			if got, err := decompress(c, bad); err == nil && bytes.Equal(got, msg) {
				t.Errorf("%s: a damaged stream of %d bytes decoded to the original", name, len(bad))
			}
		}
		if got, err := decompress(c, z); err != nil || !bytes.Equal(got, msg) {
			t.Errorf("%s: after corrupt input: err %v, want the message back", name, err)
		}
	}
}

func flip(p []byte, i int) []byte {
	q := bytes.Clone(p)
	q[i] ^= 0x55
	return q
}

// TestRatio logs each codec's size on GloVe-like vectors (the numbers
// of docs/server.md, Compression).
func TestRatio(t *testing.T) {
	msg := upsertMessage(t, 1000)
	for _, name := range Names {
		z := compress(t, encoding.GetCompressor(name), msg)
		t.Logf("%s: upsert of 1000×100 floats: %d → %d bytes (%.3f)", name, len(msg), len(z), float64(len(z))/float64(len(msg)))
	}
	// Why SpeedFastest: the levels that shrink float vectors at all cost
	// several times the CPU (BenchmarkZstdLevels).
	for _, l := range []zstd.EncoderLevel{zstd.SpeedFastest, zstd.SpeedDefault, zstd.SpeedBetterCompression, zstd.SpeedBestCompression} {
		e, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(l), zstd.WithEncoderConcurrency(1))
		if err != nil {
			t.Fatal(err)
		}
		z := e.EncodeAll(msg, nil)
		t.Logf("zstd level %v: %d → %d bytes (%.3f)", l, len(msg), len(z), float64(len(z))/float64(len(msg)))
	}
}

// BenchmarkZstdLevels is the CPU cost of each zstd level on the message
// of TestRatio.
func BenchmarkZstdLevels(b *testing.B) {
	msg := upsertMessage(b, 1000)
	for _, l := range []zstd.EncoderLevel{zstd.SpeedFastest, zstd.SpeedDefault, zstd.SpeedBetterCompression, zstd.SpeedBestCompression} {
		e, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(l), zstd.WithEncoderConcurrency(1))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(l.String(), func(b *testing.B) {
			b.SetBytes(int64(len(msg)))
			var z []byte
			for b.Loop() {
				z = e.EncodeAll(msg, z[:0])
			}
			b.ReportMetric(float64(len(z))/float64(len(msg)), "ratio")
		})
	}
}

// BenchmarkCompressUpsert1000 and BenchmarkDecompressUpsert1000 give the
// CPU cost per MB (1000 GloVe-like 100-d vectors, ~410 KB).
func BenchmarkCompressUpsert1000(b *testing.B) {
	msg := upsertMessage(b, 1000)
	for _, name := range Names {
		c := encoding.GetCompressor(name)
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(msg)))
			var z []byte
			for b.Loop() {
				z = compress(b, c, msg)
			}
			b.ReportMetric(float64(len(z))/float64(len(msg)), "ratio")
		})
	}
}

func BenchmarkDecompressUpsert1000(b *testing.B) {
	msg := upsertMessage(b, 1000)
	for _, name := range Names {
		c := encoding.GetCompressor(name)
		z := compress(b, c, msg)
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(msg)))
			for b.Loop() {
				if _, err := decompress(c, z); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
