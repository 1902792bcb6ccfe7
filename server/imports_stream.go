package server

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	shoalv1 "github.com/shoaldb/shoal/proto/shoal/v1"
)

// AdminService.Import: a client streams the rows of a file of its own;
// the server writes them to a file in its spool directory
// (DATA-DIR/import-spool), a big-ann-benchmarks binary file (.fbin,
// .u8bin or .i8bin: u32 rows, u32 dim, then the rows), and once the
// stream ends runs a job over it as StartImport would (imports.go),
// with the same choice of method. The file is written under a temporary
// name, synced and renamed into place before the job's record names it,
// so a job never reads a partial copy; the job removes it when it ends,
// and Open removes the spool files no running job reads (a stream cut
// short, a removal that failed).
//
// The copy takes the rows' size on the server's disk until the job ends.

// spoolDirName is the spool directory, under the data directory.
const spoolDirName = "import-spool"

// spoolDir returns the spool directory.
func (s *Server) spoolDir() string { return filepath.Join(s.db.Dir(), spoolDirName) }

// spoolExt is the file extension of rows of each element type a stream
// may carry (and the element size).
var spoolExt = map[shoalv1.ElementType]struct {
	ext  string
	size int
}{
	shoalv1.ElementType_ELEMENT_TYPE_UNSPECIFIED: {".fbin", 4},
	shoalv1.ElementType_ELEMENT_TYPE_FLOAT32:     {".fbin", 4},
	shoalv1.ElementType_ELEMENT_TYPE_UINT8:       {".u8bin", 1},
	shoalv1.ElementType_ELEMENT_TYPE_INT8:        {".i8bin", 1},
}

func (a adminAPI) Import(stream grpc.ClientStreamingServer[shoalv1.ImportRequest, shoalv1.ImportJob]) error {
	first, err := stream.Recv()
	if errors.Is(err, io.EOF) {
		return status.Error(codes.InvalidArgument, "the stream carried no message")
	}
	if err != nil {
		return err
	}
	sp, rowBytes, err := a.checkImportHeader(first)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(a.spoolDir(), ".tmp-*")
	if err != nil {
		return internal("import spool: %v", err)
	}
	keep := false
	defer func() {
		if !keep {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	var hdr [8]byte
	if _, err := tmp.Write(hdr[:]); err != nil {
		return internal("import spool: %v", err)
	}
	var rows uint64
	for msg, req := 0, first; ; msg++ {
		b := req.GetRows()
		if len(b)%rowBytes != 0 {
			return status.Errorf(codes.InvalidArgument, "message %d: %d bytes of rows, not a whole number of rows of %d bytes", msg, len(b), rowBytes)
		}
		if msg > 0 && (req.GetCollection() != "" || req.GetDim() != 0 || req.GetTenant() != "" || req.GetFirstId() != 0 || req.GetMethod() != 0 || req.GetElementType() != 0) {
			return status.Errorf(codes.InvalidArgument, "message %d: only the first message names the job", msg)
		}
		if rows += uint64(len(b) / rowBytes); rows > math.MaxUint32 {
			return status.Errorf(codes.InvalidArgument, "more than %d rows in one stream", uint64(math.MaxUint32))
		}
		if _, err := tmp.Write(b); err != nil {
			return internal("import spool: %v", err)
		}
		if req, err = stream.Recv(); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return err
		}
	}
	if rows == 0 {
		return status.Error(codes.InvalidArgument, "the stream carried no rows")
	}
	binary.LittleEndian.PutUint32(hdr[:], uint32(rows))
	binary.LittleEndian.PutUint32(hdr[4:], uint32(sp.dimension))
	var name [8]byte
	if _, err := rand.Read(name[:]); err != nil {
		panic(fmt.Sprintf("server: crypto/rand: %v", err))
	}
	final := filepath.Join(a.spoolDir(), "rows-"+hex.EncodeToString(name[:])+spoolExt[sp.elem].ext)
	_, err = tmp.WriteAt(hdr[:], 0)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), final)
	}
	if err == nil {
		err = syncDir(a.spoolDir())
	}
	if err != nil {
		os.Remove(final)
		return internal("import spool: %v", err)
	}
	keep = true
	sp.path, sp.name = final, "(the streamed rows)"
	j, err := a.startImport(sp.importSpec)
	if err != nil {
		os.Remove(final)
		return err
	}
	return stream.SendAndClose(j)
}

// streamSpec is an Import stream's job.
type streamSpec struct {
	importSpec
	elem      shoalv1.ElementType
	dimension int
}

// checkImportHeader checks an Import stream's first message against its
// collection, so that a stream that cannot start a job is refused
// before its rows are copied. It returns the job and the bytes of a row.
func (s *Server) checkImportHeader(req *shoalv1.ImportRequest) (streamSpec, int, error) {
	sp := streamSpec{
		importSpec: importSpec{coll: req.GetCollection(), tenant: req.GetTenant(), firstID: req.GetFirstId(), method: req.GetMethod(), spool: true},
		elem:       req.GetElementType(), dimension: int(req.GetDim()),
	}
	et, ok := spoolExt[sp.elem]
	if !ok {
		return sp, 0, status.Errorf(codes.InvalidArgument, "element_type %v: rows travel as FLOAT32, UINT8 or INT8", sp.elem)
	}
	if _, ok := shoalv1.ImportMethod_name[int32(sp.method)]; !ok {
		return sp, 0, status.Errorf(codes.InvalidArgument, "unknown import method %d", sp.method)
	}
	if sp.tenant != "" {
		if err := checkName("tenant", sp.tenant); err != nil {
			return sp, 0, err
		}
	}
	c, err := s.acquire(sp.coll)
	if err != nil {
		return sp, 0, err
	}
	defer c.release()
	if sp.dimension != c.rec.Dim {
		return sp, 0, status.Errorf(codes.InvalidArgument, "dim %d, the collection's dimension is %d", sp.dimension, c.rec.Dim)
	}
	if sp.tenant != "" {
		if _, err := c.tenantID(sp.tenant); err != nil {
			return sp, 0, err
		}
	}
	if b := c.building.Load(); b != nil {
		return sp, 0, status.Errorf(codes.FailedPrecondition, "collection %s is being loaded by import job %s (an offline build): start this job when it ends", clip(sp.coll), b.id)
	}
	return sp, sp.dimension * et.size, nil
}

// cleanSpool removes the files of the spool directory but those in
// keep.
func (s *Server) cleanSpool(keep map[string]bool) {
	ents, err := os.ReadDir(s.spoolDir())
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			s.log.Warn("import spool directory not read", "err", err)
		}
		return
	}
	for _, e := range ents {
		p := filepath.Join(s.spoolDir(), e.Name())
		if keep[p] || e.IsDir() {
			continue
		}
		if !strings.HasPrefix(e.Name(), ".tmp-") {
			s.log.Warn("removing an import spool file no job reads", "file", e.Name())
		}
		if err := os.Remove(p); err != nil {
			s.log.Warn("import spool file not removed", "file", e.Name(), "err", err)
		}
	}
}

// syncDir fsyncs a directory, making the entries made in it durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
