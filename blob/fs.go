package blob

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/dataport/dataport"
)

// FS is a Store in a local directory:
//
//	<root>/sha256/ab/cd/abcd…   the blobs, read-only once written
//	<root>/tmp/                 uploads in progress
//
// Put streams into a file under tmp/, hashing as it goes, syncs it, and renames it
// into place (atomic on POSIX file systems), then syncs the directory so that the
// rename survives a crash: a blob is visible whole or not at all. A crash leaves at
// most a file in tmp/, which OpenFS sweeps once it is old enough not to belong to a
// Put still running in another process.
type FS struct {
	root string
}

// staleUpload is how old a file in tmp/ must be before OpenFS removes it.
const staleUpload = 24 * time.Hour

// OpenFS opens (creating it if needed) a store in dir.
func OpenFS(dir string) (*FS, error) {
	const op = "blob.OpenFS"
	root, err := filepath.Abs(dir)
	if err != nil {
		return nil, dataport.Internal(op, err)
	}
	for _, d := range []string{filepath.Join(root, "sha256"), filepath.Join(root, "tmp")} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			return nil, dataport.Internal(op, err)
		}
	}
	s := &FS{root: root}
	s.sweep(time.Now().Add(-staleUpload))
	return s, nil
}

// Root is the store's directory.
func (s *FS) Root() string { return s.root }

func (s *FS) path(sum string) string {
	return filepath.Join(s.root, "sha256", sum[:2], sum[2:4], sum)
}

// sweep removes uploads abandoned before cutoff.
func (s *FS) sweep(cutoff time.Time) {
	entries, _ := os.ReadDir(filepath.Join(s.root, "tmp"))
	for _, e := range entries {
		if info, err := e.Info(); err == nil && info.ModTime().Before(cutoff) {
			os.Remove(filepath.Join(s.root, "tmp", e.Name()))
		}
	}
}

// Put implements Store.
func (s *FS) Put(ctx context.Context, r io.Reader, limit int64, want string) (Info, error) {
	const op = "blob.Put"
	if want != "" {
		if err := checkAddress(op, want); err != nil {
			return Info{}, err
		}
	}
	tmp, err := os.CreateTemp(filepath.Join(s.root, "tmp"), "put-*")
	if err != nil {
		return Info{}, DiskFault(op, err)
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	h := sha256.New()
	w := &errWriter{w: tmp}
	n, err := io.Copy(io.MultiWriter(w, h), &ctxReader{ctx: ctx, r: io.LimitReader(r, limit+1)})
	if err != nil {
		if w.err != nil { // the disk failed, not the content
			return Info{}, DiskFault(op, w.err)
		}
		if ctx.Err() != nil {
			return Info{}, dataport.Errorf(op, dataport.KindUnavailable, "upload stopped: %v", ctx.Err())
		}
		return Info{}, dataport.Errorf(op, dataport.KindInvalid, "the content broke off: %v", err)
	}
	if n > limit {
		return Info{}, tooLarge(op, limit)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if want != "" && sum != want {
		return Info{}, dataport.Invalid(op, dataport.FieldProblem{Field: "sha256", Message: fmt.Sprintf("the content hashes to %s, not %s", sum, want)})
	}
	if err := tmp.Sync(); err != nil {
		return Info{}, DiskFault(op, err)
	}
	if err := tmp.Close(); err != nil {
		return Info{}, DiskFault(op, err)
	}
	final := s.path(sum)
	if info, err := os.Stat(final); err == nil && info.Size() == n { // stored before: same bytes
		os.Remove(tmp.Name())
		done = true
		return Info{SHA256: sum, Size: n, Stored: info.ModTime().UTC()}, nil
	}
	if err := os.MkdirAll(filepath.Dir(final), 0o750); err != nil {
		return Info{}, DiskFault(op, err)
	}
	if err := os.Chmod(tmp.Name(), 0o440); err != nil {
		return Info{}, dataport.Internal(op, err)
	}
	if err := os.Rename(tmp.Name(), final); err != nil {
		return Info{}, dataport.Internal(op, err)
	}
	done = true
	if err := syncDir(filepath.Dir(final)); err != nil {
		return Info{}, dataport.Internal(op, err)
	}
	info, err := os.Stat(final)
	if err != nil {
		return Info{}, dataport.Internal(op, err)
	}
	return Info{SHA256: sum, Size: n, Stored: info.ModTime().UTC()}, nil
}

// DiskFault classifies an error of writing to local disk: a full disk (or a full
// quota) is KindUnavailable — the request was good and succeeds once the operator
// has freed space, so the client is told to retry (HTTP 503 with Retry-After) rather
// than that its content was bad or the exchange broken; anything else is internal.
func DiskFault(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return &dataport.Error{Op: op, Kind: dataport.KindUnavailable, Message: "no space left to store the content", Err: err}
	}
	return dataport.Internal(op, err)
}

// errWriter records why writing failed, so that a copy's error is known for the
// writer's (the disk's) rather than the reader's (the client's).
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	n, err := e.w.Write(p)
	if err != nil && e.err == nil {
		e.err = err
	}
	return n, err
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Stat implements Store.
func (s *FS) Stat(ctx context.Context, sum string) (Info, error) {
	const op = "blob.Stat"
	if err := checkAddress(op, sum); err != nil {
		return Info{}, err
	}
	info, err := os.Stat(s.path(sum))
	if errors.Is(err, fs.ErrNotExist) {
		return Info{}, notFound(op, sum)
	}
	if err != nil {
		return Info{}, dataport.Internal(op, err)
	}
	return Info{SHA256: sum, Size: info.Size(), Stored: info.ModTime().UTC()}, nil
}

type fsObject struct {
	*os.File
	info Info
}

func (o *fsObject) Info() Info { return o.info }

// OSFile implements FileBacked.
func (o *fsObject) OSFile() *os.File { return o.File }

// Open implements Store.
func (s *FS) Open(ctx context.Context, sum string) (Object, error) {
	const op = "blob.Open"
	if err := checkAddress(op, sum); err != nil {
		return nil, err
	}
	f, err := os.Open(s.path(sum))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, notFound(op, sum)
	}
	if err != nil {
		return nil, dataport.Internal(op, err)
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, dataport.Internal(op, err)
	}
	return &fsObject{File: f, info: Info{SHA256: sum, Size: info.Size(), Stored: info.ModTime().UTC()}}, nil
}

// Delete implements Store.
func (s *FS) Delete(ctx context.Context, sum string) error {
	const op = "blob.Delete"
	if err := checkAddress(op, sum); err != nil {
		return err
	}
	err := os.Remove(s.path(sum))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return dataport.Internal(op, err)
	}
	return nil
}

// Uploads lists the uploads in progress (or abandoned): what a consistency check
// looks at after a crash.
func (s *FS) Uploads() ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(s.root, "tmp"))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "put-") {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

var _ Lister = (*FS)(nil)

// List implements Lister.
func (s *FS) List(ctx context.Context, fn func(Info) error) error {
	return filepath.WalkDir(filepath.Join(s.root, "sha256"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !ValidAddress(d.Name()) {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		info, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) { // deleted meanwhile
			return nil
		}
		if err != nil {
			return err
		}
		return fn(Info{SHA256: d.Name(), Size: info.Size(), Stored: info.ModTime().UTC()})
	})
}

// Pending implements Lister: the files in tmp/.
func (s *FS) Pending(ctx context.Context) ([]Pending, error) {
	entries, err := os.ReadDir(filepath.Join(s.root, "tmp"))
	if err != nil {
		return nil, err
	}
	var out []Pending
	for _, e := range entries {
		if info, err := e.Info(); err == nil {
			out = append(out, Pending{Name: "tmp/" + e.Name(), Began: info.ModTime().UTC()})
		}
	}
	return out, nil
}

// SweepPending implements Lister.
func (s *FS) SweepPending(ctx context.Context, cutoff time.Time) error {
	s.sweep(cutoff)
	return nil
}

// ctxReader stops a copy when its context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
