package posting_test

// This file is a measurement, not a test of Shoal's behaviour: it asks
// whether compressing the vector block of a posting (zstd, with or without
// a trained dictionary, with or without byte-plane shuffle and
// delta-to-head) saves more bytes read per query than it costs in decode
// CPU. Results and the decision are in docs/posting-compression.md.
//
// It runs only against a built index:
//
//	SHOAL_COMPRESS_INDEX=/tmp/ix300 go test ./posting -run TestCompressionExperiment -v
//
// It lives in package posting_test because it opens an index, and package
// index imports posting.

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/dict"
	"github.com/klauspost/compress/zstd"

	"github.com/shoaldb/shoal/cluster"
	"github.com/shoaldb/shoal/internal/vec"
	"github.com/shoaldb/shoal/posting"
	"github.com/shoaldb/shoal/posting/pebblestore"
)

const (
	// expSeed picks the timing sample and the dictionary training set.
	expSeed = 20240617
	// expTimed is the number of postings whose decode time is measured.
	expTimed = 3000
	// expTrain is the number of postings (disjoint from the timed ones)
	// whose vector blocks train the zstd dictionaries.
	expTrain = 1000
	// expDictSize is the trained dictionary size (klauspost's default).
	expDictSize = 112 << 10
	// expPasses is the number of timing passes over the sample; each
	// posting's time is the median of its passes.
	expPasses = 3
	// expNProbe is the number of postings one query reads.
	expNProbe = 16
	// expPage is the unit of a direct read.
	expPage = 4096
	// expHeaderBytes is the fixed header of the version 1 encoding.
	expHeaderBytes = 8
	// expReadCPUPerPage is the CPU a batched O_DIRECT read costs per 4 KiB
	// page on the reference VM (about 11 µs per 16 KiB read).
	expReadCPUPerPage = 11.0 / 4
	// expQueryUS is the CPU time of one query at nprobe 16 on the
	// reference VM (0.7–1.1 ms measured), to express extra CPU as a share.
	expQueryUS = 900.0
)

// expTransform is a lossless, invertible rewrite of a float32 vector block
// before compression. forward writes the transformed block to dst (same
// length as src); inverse undoes it.
type expTransform struct {
	name    string
	forward func(dst, src []byte, head []float32)
	inverse func(dst, src []byte, head []float32)
}

var (
	expIdentity = expTransform{"none",
		func(dst, src []byte, _ []float32) { copy(dst, src) },
		func(dst, src []byte, _ []float32) { copy(dst, src) }}
	expShuffle = expTransform{"shuffle",
		func(dst, src []byte, _ []float32) { shufflePlanes(dst, src) },
		func(dst, src []byte, _ []float32) { unshufflePlanes(dst, src) }}
	// Delta-to-head on the bit patterns: float subtraction is not
	// invertible bit for bit (fl(fl(v-h)+h) != v when v and h are far
	// apart), integer subtraction and XOR are.
	expSubShuffle = expTransform{"sub-head+shuffle",
		func(dst, src []byte, h []float32) { shufflePlanes(dst, deltaBits(src, h, false)) },
		func(dst, src []byte, h []float32) { unshufflePlanes(dst, src); undeltaBits(dst, h, false) }}
	expXorShuffle = expTransform{"xor-head+shuffle",
		func(dst, src []byte, h []float32) { shufflePlanes(dst, deltaBits(src, h, true)) },
		func(dst, src []byte, h []float32) { unshufflePlanes(dst, src); undeltaBits(dst, h, true) }}
)

// shufflePlanes splits little-endian float32s into four byte planes:
// byte 0 of every value, then byte 1, and so on, so the sign/exponent
// bytes sit together.
func shufflePlanes(dst, src []byte) {
	n := len(src) / 4
	for i := 0; i < n; i++ {
		dst[i] = src[4*i]
		dst[n+i] = src[4*i+1]
		dst[2*n+i] = src[4*i+2]
		dst[3*n+i] = src[4*i+3]
	}
}

func unshufflePlanes(dst, src []byte) {
	n := len(src) / 4
	for i := 0; i < n; i++ {
		dst[4*i] = src[i]
		dst[4*i+1] = src[n+i]
		dst[4*i+2] = src[2*n+i]
		dst[4*i+3] = src[3*n+i]
	}
}

// deltaBits returns a copy of src with each float32's bits replaced by
// bits(v) - bits(h) (or bits(v) ^ bits(h)) for the head value h of its
// dimension.
func deltaBits(src []byte, head []float32, xor bool) []byte {
	out := make([]byte, len(src))
	dim := len(head)
	for i := 0; i < len(src)/4; i++ {
		v := binary.LittleEndian.Uint32(src[4*i:])
		h := math.Float32bits(head[i%dim])
		if xor {
			v ^= h
		} else {
			v -= h
		}
		binary.LittleEndian.PutUint32(out[4*i:], v)
	}
	return out
}

// undeltaBits inverts deltaBits in place.
func undeltaBits(b []byte, head []float32, xor bool) {
	dim := len(head)
	for i, d := 0, 0; i < len(b)/4; i++ {
		v := binary.LittleEndian.Uint32(b[4*i:])
		h := math.Float32bits(head[d])
		if xor {
			v ^= h
		} else {
			v += h
		}
		binary.LittleEndian.PutUint32(b[4*i:], v)
		if d++; d == dim {
			d = 0
		}
	}
}

// expVariant is one candidate encoding: the version 1 prefix (header, ids,
// versions, padding) unchanged, the vector block transformed and
// zstd-compressed, then the CRC-32C.
type expVariant struct {
	name  string
	tr    expTransform
	level zstd.EncoderLevel
	dict  bool

	enc *zstd.Encoder
	dec *zstd.Decoder
}

// expSample is a copy of one posting and its head.
type expSample struct {
	id   uint32
	enc  []byte // version 1 encoding
	vecs []byte
	head []float32
	n    int
}

// expRow is one line of the result table.
type expRow struct {
	name          string
	bytes, pages  int64
	medUS, meanUS float64
	dictBytes     int
}

func TestCompressionExperiment(t *testing.T) {
	dir := os.Getenv("SHOAL_COMPRESS_INDEX")
	if dir == "" {
		t.Skip("set SHOAL_COMPRESS_INDEX to an index directory to run the compression experiment")
	}
	store, err := pebblestore.Open(dir, &pebblestore.Options{CacheBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	// The experiment reads the heads of a freshly built index: its tree
	// file holds them (no maintenance edits since).
	tree, err := cluster.ReadFile(filepath.Join(dir, "tree.shct"))
	if err != nil {
		t.Fatal(err)
	}
	nPost := tree.NumLeaves()
	if nPost < expTimed+expTrain {
		t.Fatalf("index has %d postings, the experiment needs at least %d", nPost, expTimed+expTrain)
	}

	// Pick the timed sample and the training set, disjoint, by seed.
	rng := rand.New(rand.NewPCG(expSeed, 0))
	perm := rng.Perm(nPost)
	role := make(map[uint32]byte, expTimed+expTrain)
	for _, p := range perm[:expTimed] {
		role[uint32(p)] = 't'
	}
	for _, p := range perm[expTimed : expTimed+expTrain] {
		role[uint32(p)] = 'd'
	}

	// Pass 1: copy the sampled postings.
	var timed, train []*expSample
	var floatDeltaLossy, floatDeltaTotal int64
	err = scanPostings(store, func(id uint32, p *posting.Posting) error {
		r, ok := role[id]
		if !ok {
			return nil
		}
		if p.Elem != vec.Float32 {
			return fmt.Errorf("posting %d: element type %d, the experiment needs float32", id, p.Elem)
		}
		head := tree.Head(int(id))
		s := &expSample{id: id, enc: posting.Encode(nil, p), vecs: bytes.Clone(p.Vectors), head: head, n: p.Len()}
		if r == 't' {
			timed = append(timed, s)
			// How often is plain float delta-to-head not bit-exact?
			for i := 0; i < len(s.vecs)/4; i++ {
				v := math.Float32frombits(binary.LittleEndian.Uint32(s.vecs[4*i:]))
				h := head[i%len(head)]
				if d := v - h; math.Float32bits(d+h) != math.Float32bits(v) {
					floatDeltaLossy++
				}
				floatDeltaTotal++
			}
		} else {
			train = append(train, s)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	variants := []*expVariant{
		{name: "zstd default", tr: expIdentity, level: zstd.SpeedDefault},
		{name: "zstd best", tr: expIdentity, level: zstd.SpeedBestCompression},
		{name: "zstd default + dict", tr: expIdentity, level: zstd.SpeedDefault, dict: true},
		{name: "shuffle + zstd default", tr: expShuffle, level: zstd.SpeedDefault},
		{name: "shuffle + zstd best", tr: expShuffle, level: zstd.SpeedBestCompression},
		{name: "sub-head + shuffle + zstd default", tr: expSubShuffle, level: zstd.SpeedDefault},
		{name: "xor-head + shuffle + zstd default", tr: expXorShuffle, level: zstd.SpeedDefault},
		{name: "xor-head + shuffle + zstd default + dict", tr: expXorShuffle, level: zstd.SpeedDefault, dict: true},
		{name: "xor-head + shuffle + zstd best", tr: expXorShuffle, level: zstd.SpeedBestCompression},
	}
	rows := make([]expRow, 1+len(variants))
	rows[0].name = "baseline (format v1)"
	for i, v := range variants {
		var d []byte
		if v.dict {
			start := time.Now()
			d = trainDict(t, v, train)
			rows[1+i].dictBytes = len(d)
			t.Logf("%s: trained %d-byte dictionary on %d postings in %v", v.name, len(d), len(train), time.Since(start).Round(time.Millisecond))
		}
		v.enc, v.dec = newCodec(t, v.level, d)
		rows[1+i].name = v.name
	}

	// Pass 2: byte and page totals over every posting.
	start := time.Now()
	var nAll int64
	var tbuf []byte
	var zbuf []byte
	err = scanPostings(store, func(id uint32, p *posting.Posting) error {
		nAll++
		size := int64(posting.EncodedSize(p.Elem, p.Dim, p.Len()))
		rows[0].bytes += size
		rows[0].pages += pages(size)
		head := tree.Head(int(id))
		prefix := size - int64(len(p.Vectors)) - 4
		for i, v := range variants {
			tbuf = slices.Grow(tbuf[:0], len(p.Vectors))[:len(p.Vectors)]
			v.tr.forward(tbuf, p.Vectors, head)
			zbuf = v.enc.EncodeAll(tbuf, zbuf[:0])
			sz := prefix + int64(len(zbuf)) + 4
			rows[1+i].bytes += sz
			rows[1+i].pages += pages(sz)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("compressed all %d postings with %d variants in %v", nAll, len(variants), time.Since(start).Round(time.Millisecond))

	// Decode timing on the sample. Each pass walks all sampled postings
	// (tens of MiB, more than the caches) so a decode starts from memory,
	// as after a read.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	rows[0].medUS, rows[0].meanUS = timeBaseline(t, timed)
	for i, v := range variants {
		rows[1+i].medUS, rows[1+i].meanUS = timeVariant(t, v, timed)
	}

	// Report.
	var sb strings.Builder
	base := rows[0]
	fmt.Fprintf(&sb, "\n%d postings, %d timed (seed %d), %d for dictionary training; float delta-to-head not bit-exact for %d of %d values (%.3f%%)\n",
		nAll, len(timed), expSeed, len(train), floatDeltaLossy, floatDeltaTotal, 100*float64(floatDeltaLossy)/float64(floatDeltaTotal))
	fmt.Fprintf(&sb, "| variant | total MiB | bytes vs base | 4 KiB pages | pages vs base | decode µs median | decode µs mean | per query (nprobe %d): pages saved | KiB saved | read bytes change | extra decode CPU µs | read CPU saved µs | net CPU change (of %.0f µs) |\n", expNProbe, expQueryUS)
	fmt.Fprintf(&sb, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rows {
		savedPages := float64(expNProbe) * float64(base.pages-r.pages) / float64(nAll)
		extraCPU := float64(expNProbe) * (r.meanUS - base.meanUS)
		savedCPU := savedPages * expReadCPUPerPage
		fmt.Fprintf(&sb, "| %s | %.1f | %.3f | %d | %.3f | %.1f | %.1f | %.2f | %.1f | %+.1f%% | %.1f | %.1f | %+.1f%% |\n",
			r.name, float64(r.bytes)/(1<<20), float64(r.bytes)/float64(base.bytes), r.pages, float64(r.pages)/float64(base.pages),
			r.medUS, r.meanUS, savedPages, savedPages*expPage/1024, -100*float64(base.pages-r.pages)/float64(base.pages),
			extraCPU, savedCPU, 100*(extraCPU-savedCPU)/expQueryUS)
	}
	fmt.Fprintf(&sb, "baseline per query: %.2f pages = %.1f KiB\n",
		float64(expNProbe)*float64(base.pages)/float64(nAll), float64(expNProbe)*float64(base.pages)/float64(nAll)*expPage/1024)
	t.Log(sb.String())
}

func pages(size int64) int64 { return (size + expPage - 1) / expPage }

func trainDict(t *testing.T, v *expVariant, train []*expSample) []byte {
	t.Helper()
	in := make([][]byte, len(train))
	for i, s := range train {
		in[i] = make([]byte, len(s.vecs))
		v.tr.forward(in[i], s.vecs, s.head)
	}
	d, err := dict.BuildZstdDict(in, dict.Options{
		MaxDictSize: expDictSize,
		HashBytes:   6,
		ZstdDictID:  1 << 20, // fixed, so runs are reproducible
		ZstdLevel:   v.level,
	})
	if err != nil {
		t.Fatalf("%s: BuildZstdDict: %v", v.name, err)
	}
	return d
}

func newCodec(t *testing.T, level zstd.EncoderLevel, d []byte) (*zstd.Encoder, *zstd.Decoder) {
	t.Helper()
	// The posting keeps its own CRC-32C, so the zstd frame checksum is off.
	eo := []zstd.EOption{zstd.WithEncoderLevel(level), zstd.WithEncoderConcurrency(1), zstd.WithEncoderCRC(false)}
	do := []zstd.DOption{zstd.WithDecoderConcurrency(1), zstd.IgnoreChecksum(true)}
	if d != nil {
		eo = append(eo, zstd.WithEncoderDict(d))
		do = append(do, zstd.WithDecoderDicts(d))
	}
	enc, err := zstd.NewWriter(nil, eo...)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := zstd.NewReader(nil, do...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { enc.Close(); dec.Close() })
	return enc, dec
}

// timeBaseline times posting.Decode of each sampled posting.
func timeBaseline(t *testing.T, timed []*expSample) (median, mean float64) {
	t.Helper()
	var p posting.Posting
	return timeEach(len(timed), func(i int) error { return posting.Decode(timed[i].enc, &p) })
}

// timeVariant encodes each sampled posting with v, checks the round trip
// is bit-exact, and times its decode: the same work as posting.Decode
// (CRC over the stored bytes, ids) plus zstd and the inverse transform.
func timeVariant(t *testing.T, v *expVariant, timed []*expSample) (median, mean float64) {
	t.Helper()
	encs := make([][]byte, len(timed))
	maxVec := 0
	for i, s := range timed {
		vo := len(s.enc) - len(s.vecs) - 4
		tb := make([]byte, len(s.vecs))
		v.tr.forward(tb, s.vecs, s.head)
		b := append([]byte(nil), s.enc[:vo]...)
		b = v.enc.EncodeAll(tb, b)
		b = binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
		encs[i] = b
		maxVec = max(maxVec, len(s.vecs))
	}
	ids := make([]uint64, 0, 1024)
	zb := make([]byte, 0, maxVec)
	out := make([]byte, maxVec)
	decode := func(i int) error {
		b, s := encs[i], timed[i]
		body := len(b) - 4
		if crc32.Checksum(b[:body], castagnoli) != binary.LittleEndian.Uint32(b[body:]) {
			return fmt.Errorf("posting %d: checksum mismatch", s.id)
		}
		n := int(binary.LittleEndian.Uint32(b[4:]))
		ids = slices.Grow(ids[:0], n)[:n]
		for j := range ids {
			ids[j] = binary.LittleEndian.Uint64(b[expHeaderBytes+8*j:])
		}
		vo := len(s.enc) - len(s.vecs) - 4
		var err error
		zb, err = v.dec.DecodeAll(b[vo:body], zb[:0])
		if err != nil {
			return fmt.Errorf("posting %d: %w", s.id, err)
		}
		v.tr.inverse(out[:len(zb)], zb, s.head)
		return nil
	}
	for i, s := range timed {
		if err := decode(i); err != nil {
			t.Fatalf("%s: %v", v.name, err)
		}
		if !bytes.Equal(out[:len(s.vecs)], s.vecs) {
			t.Fatalf("%s: posting %d does not round-trip bit for bit", v.name, s.id)
		}
	}
	return timeEach(len(timed), decode)
}

// timeEach runs fn(i) for every i, expPasses times, and returns the
// median and mean over i of each i's median time, in µs.
func timeEach(n int, fn func(i int) error) (median, mean float64) {
	per := make([][expPasses]float64, n)
	for pass := 0; pass < expPasses; pass++ {
		for i := 0; i < n; i++ {
			start := time.Now()
			if err := fn(i); err != nil {
				panic(err)
			}
			per[i][pass] = float64(time.Since(start).Nanoseconds()) / 1e3
		}
	}
	meds := make([]float64, n)
	var sum float64
	for i := range per {
		p := per[i]
		slices.Sort(p[:])
		meds[i] = p[expPasses/2]
		sum += meds[i]
	}
	slices.Sort(meds)
	return meds[n/2], sum / float64(n)
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// scanPostings calls fn with every posting of store, decoded.
func scanPostings(store posting.Store, fn func(id uint32, p *posting.Posting) error) error {
	var p posting.Posting
	return store.Scan(func(id uint32, b []byte) error {
		if err := posting.Decode(b, &p); err != nil {
			return err
		}
		return fn(id, &p)
	})
}
