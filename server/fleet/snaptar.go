package fleet

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/klauspost/compress/zstd"
)

// A shard snapshot travels through the object store as one
// zstd-compressed tar stream of the local server's snapshot directory
// (manifest.json and index/). Only directories and regular files are
// packed or unpacked; the server's restore checks every file against the
// manifest's SHA-256, and the object store checks the whole object's
// digest. (Compression matters: an index's files hold preallocated and
// dead space.)

// packDir writes the tree under dir to w as a zstd-compressed tar
// stream.
func packDir(w io.Writer, dir string) error {
	zw, err := zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(2))
	if err != nil {
		return err
	}
	if err := packTar(zw, dir); err != nil {
		zw.Close()
		return err
	}
	return zw.Close()
}

// packTar writes the tree under dir to w as a tar stream.
func packTar(w io.Writer, dir string) error {
	tw := tar.NewWriter(w)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == "." {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: filepath.ToSlash(rel) + "/", Mode: 0o755})
		case !info.Mode().IsRegular():
			return fmt.Errorf("snapshot file %s is not a regular file", rel)
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: filepath.ToSlash(rel), Mode: 0o644, Size: info.Size()}); err != nil {
			return err
		}
		_, err = io.Copy(tw, f)
		return err
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

// errBadArchive is returned by unpackDir for a stream that is not a
// snapshot's.
var errBadArchive = errors.New("fleet: snapshot archive is malformed")

// unpackDir extracts the stream packDir wrote into dir, which it
// creates; every entry must be a directory or a regular file with a
// local path.
func unpackDir(r io.Reader, dir string) error {
	zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(2))
	if err != nil {
		return err
	}
	defer zr.Close()
	if err := os.Mkdir(dir, 0o755); err != nil {
		return err
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%w: %v", errBadArchive, err)
		}
		name := filepath.FromSlash(h.Name)
		if !filepath.IsLocal(name) {
			return fmt.Errorf("%w: entry %q", errBadArchive, h.Name)
		}
		p := filepath.Join(dir, name)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := writeFileFrom(p, tr, h.Size); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%w: entry %q of type %q", errBadArchive, h.Name, h.Typeflag)
		}
	}
}

// writeFileFrom creates p (and its directory) with the next size bytes
// of r. Not synced: the restore copies it into the data directory and
// syncs that copy.
func writeFileFrom(p string, r io.Reader, size int64) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	n, err := io.CopyN(f, r, size)
	if err == nil && n != size {
		err = fmt.Errorf("%w: %s is short", errBadArchive, p)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
