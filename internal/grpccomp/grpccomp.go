// Package grpccomp registers zstd and s2 (klauspost/compress) as gRPC
// compressors (google.golang.org/grpc/encoding), so a process that
// imports it accepts messages compressed with either and, as a server,
// answers in the compression the caller used. Clients opt in per call
// or per connection with grpc.UseCompressor(grpccomp.Zstd) (package
// client: Options.Compression).
//
// Both codecs pool their encoders and decoders and run them on the
// calling goroutine (concurrency 1): gRPC messages are small, and a
// call's goroutine is already parallel with the others.
//
// The wire format is the codec's own framed stream (a zstd frame; an s2
// stream with its CRC-checked chunks), named in the grpc-encoding header
// as "zstd" or "s2". Decoders refuse corrupt input with an error; gRPC
// turns it into an Internal status.
package grpccomp

import (
	"io"
	"sync"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"google.golang.org/grpc/encoding"
)

// Names of the registered compressors (the grpc-encoding header).
const (
	Zstd = "zstd"
	S2   = "s2"
)

// Names lists the registered compressors.
var Names = []string{Zstd, S2}

// maxWindow bounds the zstd window a decoder accepts, so a request
// cannot make the server allocate more than this for history; our own
// encoder uses far less.
const maxWindow = 8 << 20

func init() {
	encoding.RegisterCompressor(&zstdCodec{})
	encoding.RegisterCompressor(&s2Codec{})
}

// zstdCodec is safe for concurrent use: each Compress and Decompress
// takes its own encoder or decoder from a pool.
type zstdCodec struct {
	enc, dec sync.Pool
}

var _ encoding.Compressor = (*zstdCodec)(nil)

func (*zstdCodec) Name() string { return Zstd }

func (c *zstdCodec) Compress(w io.Writer) (io.WriteCloser, error) {
	e, _ := c.enc.Get().(*zstd.Encoder)
	if e == nil {
		var err error
		// SpeedFastest: payloads are float vectors whose mantissas do
		// not compress; higher levels cost CPU for a few bytes.
		e, err = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest),
			zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(1<<20), zstd.WithLowerEncoderMem(true))
		if err != nil {
			return nil, err
		}
	}
	e.Reset(w)
	return &pooledWriter{WriteCloser: e, done: func() {
		e.Reset(nil) // drop the reference to the caller's writer
		c.enc.Put(e)
	}}, nil
}

func (c *zstdCodec) Decompress(r io.Reader) (io.Reader, error) {
	d, _ := c.dec.Get().(*zstd.Decoder)
	if d == nil {
		var err error
		d, err = zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(maxWindow))
		if err != nil {
			return nil, err
		}
	}
	if err := d.Reset(r); err != nil {
		c.dec.Put(d)
		return nil, err
	}
	return &pooledReader{r: d, done: func() {
		d.Reset(nil)
		c.dec.Put(d)
	}}, nil
}

// s2Codec is safe for concurrent use, as zstdCodec.
type s2Codec struct {
	enc, dec sync.Pool
}

var _ encoding.Compressor = (*s2Codec)(nil)

func (*s2Codec) Name() string { return S2 }

func (c *s2Codec) Compress(w io.Writer) (io.WriteCloser, error) {
	e, _ := c.enc.Get().(*s2.Writer)
	if e == nil {
		e = s2.NewWriter(nil, s2.WriterConcurrency(1))
	}
	e.Reset(w)
	return &pooledWriter{WriteCloser: e, done: func() {
		e.Reset(nil)
		c.enc.Put(e)
	}}, nil
}

func (c *s2Codec) Decompress(r io.Reader) (io.Reader, error) {
	d, _ := c.dec.Get().(*s2.Reader)
	if d == nil {
		d = s2.NewReader(nil)
	}
	d.Reset(r)
	return &pooledReader{r: d, done: func() {
		d.Reset(nil)
		c.dec.Put(d)
	}}, nil
}

// pooledWriter is a codec's encoder that Close returns to its pool
// (done).
type pooledWriter struct {
	io.WriteCloser
	done func()
}

func (w *pooledWriter) Close() error {
	err := w.WriteCloser.Close()
	w.done()
	return err
}

// pooledReader is a codec's decoder that goes back to its pool (done) at
// the end of the stream or on an error. gRPC reads a message to its end
// unless it is too big; a decoder left unreturned then is garbage
// (concurrency 1 starts no goroutines).
type pooledReader struct {
	r    io.Reader
	done func()
}

func (r *pooledReader) Read(p []byte) (int, error) {
	if r.done == nil {
		return 0, io.EOF
	}
	n, err := r.r.Read(p)
	if err != nil {
		r.done()
		r.done = nil
	}
	return n, err
}
