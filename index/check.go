package index

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"strings"

	"github.com/shoaldb/shoal/cluster"
	"github.com/shoaldb/shoal/index/internal/tail"
	"github.com/shoaldb/shoal/index/internal/vectors"
	"github.com/shoaldb/shoal/internal/keys"
	"github.com/shoaldb/shoal/posting"
)

// Check verifies the index's files and invariants and returns nil, or an
// error (wrapping ErrCorrupt) that lists the first problems found:
//
//   - every checksum of every file holds: the Pebble database's tables
//     (every block) and logs, the posting segments (every posting, and
//     the zero padding between them), the vectors file (every block) and
//     the tree file; CheckWithStats says how many bytes that covered and
//     how many no checksum covers;
//   - every stored posting decodes (checksum), has the index's element
//     type and dimension, and belongs to a live head of the tree;
//   - every live head's posting, if stored, is readable;
//   - every live vector has at least one current copy in a posting or a
//     tail, so an exhaustive search finds it, and every current copy holds
//     the vector stored for its id;
//   - the in-memory tails and id states equal the update log in the store;
//   - every stored upserted vector belongs to a live id, and every live id
//     outside the build's range has one.
//
// Check reads the whole index. Writers and maintenance wait while it runs;
// searches do not.
func (ix *Index) Check() error { return ix.CheckWithStats(nil) }

// CheckStats is what Check read of the index's files.
type CheckStats struct {
	// Files is, per kind of file, what was read.
	Files []CheckedFiles
	// Verified is the number of bytes that checksums were verified over;
	// Unverified the number of bytes the index's files hold that no
	// checksum covers, or that failed their checks (reported as problems);
	// see each kind's Note. Both sum Files.
	Verified   int64
	Unverified int64
}

// CheckedFiles is what Check read of one kind of file.
type CheckedFiles struct {
	// Kind names the files: "sstables", "pebble logs", "pebble options",
	// "segments", "vectors", "tree".
	Kind string
	// Files is how many were read.
	Files int
	// Verified and Unverified are as in CheckStats; Note says what the
	// unverified bytes are.
	Verified   int64
	Unverified int64
	Note       string
}

// CheckWithStats is Check, and fills st, if not nil, with what it read.
func (ix *Index) CheckWithStats(st *CheckStats) error {
	if ix.closed.Load() {
		return ErrClosed
	}
	ix.maint.run.Lock()
	defer ix.maint.run.Unlock()
	ix.wmu.Lock()
	defer ix.wmu.Unlock()

	// The first maxProblems problems are kept, all are counted.
	const maxProblems = 20
	var problems []string
	found := 0
	report := func(format string, args ...any) bool {
		found++
		if len(problems) < maxProblems {
			problems = append(problems, fmt.Sprintf(format, args...))
		}
		return found < maxProblems
	}
	files, postings := ix.verifyFiles(report)
	// Postings are the store's bytes it does not parse: the scan below
	// decodes each (checking its CRC) and counts the bytes that pass.
	var postingBytes int64
	defer func() {
		if st == nil {
			return
		}
		for i := range files {
			if files[i].Kind == postings.kind {
				files[i].Verified += postingBytes
				files[i].Unverified += max(postings.bytes-postingBytes, 0)
			}
		}
		*st = CheckStats{Files: files}
		for _, f := range files {
			st.Verified += f.Verified
			st.Unverified += f.Unverified
		}
	}()
	tree := ix.tree
	covered := make(map[uint64]struct{}, ix.live.Load())
	// sameAsStored checks a current copy against the vector stored for
	// its id: a copy at the current version holding another vector would
	// be returned for the id.
	// Each id's stored vector is read once (upserted ones by the scan
	// below, built ones from the vectors file on first use); its checksum
	// stands for it.
	stored := make(map[uint64]uint32)
	sameAsStored := func(p uint32, id uint64, row []byte) {
		sum, ok := stored[id]
		if !ok {
			want, err := ix.storedRow(id)
			if err != nil {
				report("id %d: stored vector: %v", id, err)
				return
			}
			sum = crc32.Checksum(want, castagnoli)
			stored[id] = sum
		}
		if crc32.Checksum(row, castagnoli) != sum {
			report("posting %d: the current copy of id %d differs from its stored vector", p, id)
		}
	}
	records := make(map[uint64]struct{})
	// The upserted vectors, scanned in key order (point reads would cost
	// an O_DIRECT index-block read each): their checksums.
	err := ix.store.ScanPrefix(keys.Prefix(keys.Vector), func(k, v []byte) error {
		id := binary.BigEndian.Uint64(k[1:])
		records[id] = struct{}{}
		stored[id] = crc32.Checksum(v, castagnoli)
		if len(v) != ix.rowBytes {
			report("vector record %d of %d bytes", id, len(v))
		}
		if ix.vers.get(id)&stateLive == 0 {
			report("vector record %d of an id that is not live", id)
		}
		return nil
	})
	if err != nil {
		report("scan vectors: %v", err)
	}
	// Payloads: well-formed, of live ids.
	err = ix.store.ScanPrefix(keys.Prefix(keys.Payload), func(k, v []byte) error {
		if len(k) != 9 {
			report("payload record key %x", k)
			return nil
		}
		id := binary.BigEndian.Uint64(k[1:])
		if _, err := decodePayload(v); err != nil || !json.Valid(v[1:]) {
			report("payload record %d: not a JSON object record", id)
		}
		if ix.vers.get(id)&stateLive == 0 {
			report("payload record %d of an id that is not live", id)
		}
		return nil
	})
	if err != nil {
		report("scan payloads: %v", err)
	}
	dim, elem := ix.man.Dim, ix.elem()
	var p posting.Posting
	tc := ix.ten.NewCheck()
	err = ix.store.Scan(func(id uint32, b []byte) error {
		if err := posting.Decode(b, &p); err != nil {
			if !report("posting %d: %v", id, err) {
				return errStop
			}
			return nil
		}
		postingBytes += int64(len(b))
		if p.Dim != dim || p.Elem != elem {
			report("posting %d holds %d-dim %v, index %d-dim %v", id, p.Dim, p.Elem, dim, elem)
		}
		if t, ok := tc.Owner(id); ok {
			if tree.IsLeaf(id) {
				report("posting %d is both a head and a shortlist of tenant %d", id, t)
			}
			if p.Quantized() {
				report("shortlist %d of tenant %d holds codes, not rows", id, t)
			}
			tc.Rows(t, id, &p, sameAsStored)
			return nil
		}
		if !tree.IsLeaf(id) {
			report("posting %d is stored but is no head of the tree", id)
		}
		if p.Quantized() {
			ix.checkCodes(tree, id, &p, covered, report)
		} else {
			for i, v := range p.IDs {
				if ix.vers.live(v, p.Versions[i]) {
					covered[v] = struct{}{}
					sameAsStored(id, v, p.Row(i))
				}
			}
		}
		if found >= maxProblems {
			return errStop
		}
		return nil
	})
	// A scan stopped early leaves copies uncounted: coverage is not
	// checked then.
	scanned := !errors.Is(err, errStop)
	if err != nil && scanned {
		report("scan postings: %v", err)
	}

	for _, msg := range tc.Finish(20) {
		if !report("%s", msg) {
			break
		}
	}

	// Tails: memory against the update log.
	bad := func(format string, args ...any) { report(format, args...) }
	if err := ix.tails.CheckLog(ix.store.ScanPrefix, ix.rowBytes, tree.IsLeaf, bad); err != nil {
		report("scan update log: %v", err)
	}
	ix.tails.Each(func(p uint32, t *tail.Tail) {
		for i, id := range t.IDs {
			if ix.vers.live(id, t.Vers[i]) {
				covered[id] = struct{}{}
				sameAsStored(p, id, t.Vecs[i*ix.rowBytes:(i+1)*ix.rowBytes])
			}
		}
	})

	// Id states: memory against the log.
	logState := make(map[uint64]uint8)
	err = scanStates(ix.store, func(id uint64, st uint8) {
		logState[id] = st
		if got := ix.vers.get(id); got != st {
			report("id %d: state %#x in memory, %#x in the log", id, got, st)
		}
	})
	if err != nil {
		report("scan states: %v", err)
	}
	live := 0
	ix.vers.each(func(id uint64, st uint8) {
		if st&stateLive == 0 {
			return
		}
		live++
		if _, ok := logState[id]; !ok && id >= uint64(ix.man.Count) {
			report("id %d is live in memory but has no state record", id)
		}
		if _, ok := covered[id]; !ok && scanned {
			report("live id %d (version %d) has no current copy in any posting", id, st&versionMask)
		}
		if _, ok := records[id]; !ok && id >= uint64(ix.man.Count) {
			report("live id %d has no stored vector", id)
		}
	})
	if int64(live) != ix.live.Load() {
		report("live count %d, counted %d", ix.live.Load(), live)
	}
	if found == 0 {
		return nil
	}
	return fmt.Errorf("%w: %d problem(s) found, first %d: %s", ErrCorrupt, found, len(problems), strings.Join(problems, "; "))
}

// storePostings is where the store's files hold postings, and how many
// bytes of them (posting.Verified.Postings).
type storePostings struct {
	kind  string
	bytes int64
}

// verifyFiles checks every checksum of every file of the index, reporting
// damage, and returns what it read, and the postings the store left to
// the index to check.
func (ix *Index) verifyFiles(report func(format string, args ...any) bool) ([]CheckedFiles, storePostings) {
	problem := func(msg string) bool { return report("%s", msg) }
	var out []CheckedFiles
	var postings storePostings
	verified, err := ix.store.Verify(problem)
	if err != nil {
		report("verify store files: %v", err)
	}
	for _, v := range verified {
		out = append(out, CheckedFiles{Kind: v.Kind, Files: v.Files, Verified: v.Bytes, Unverified: v.Unverified, Note: v.Note})
		if v.Postings > 0 {
			postings = storePostings{kind: v.Kind, bytes: postings.bytes + v.Postings}
		}
	}
	if ix.man.Count > 0 {
		vf := CheckedFiles{Kind: "vectors", Files: 1}
		if vf.Verified, vf.Unverified, err = ix.vectors.Verify(problem); err != nil {
			report("verify %s: %v", vectors.File, err)
		}
		vf.Note = "damaged blocks"
		if !ix.vectors.Checksummed() {
			vf.Note = vectors.File + " of format 0 has no checksums (rebuild the index to add them)"
		}
		out = append(out, vf)
	}
	tf := CheckedFiles{Kind: "tree", Files: 1, Note: "damaged"}
	size, err := cluster.VerifyFile(ix.tlog.Path())
	if err != nil {
		report("tree file: %v", err)
		tf.Unverified = size
	} else {
		tf.Verified = size
	}
	return append(out, tf), postings
}

var errStop = errors.New("stop")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)
