package delivery

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"mime"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/blob"
	"github.com/dataport/dataport/catalog"
	"github.com/dataport/dataport/ledger"
	"github.com/dataport/dataport/registry"
	"github.com/dataport/dataport/store"
)

// Uploads are resumable: the supplier declares the file (path, size, optionally its
// SHA-256), then sends its bytes in one or more chunks, each at the offset the
// server has; a broken connection keeps what arrived, and the next chunk continues
// from there. The server hashes as bytes arrive and keeps the hash state beside the
// staged bytes, so completing a file of any size never reads it again to hash it.

// NewUpload declares a file to upload.
type NewUpload struct {
	Path      string `json:"path" maxLength:"1024" doc:"where the file sits in the revision, e.g. data/2024.csv"`
	Size      int64  `json:"size" minimum:"0" doc:"the file's size in bytes"`
	SHA256    string `json:"sha256,omitempty" pattern:"^[0-9a-f]{64}$" doc:"the file's SHA-256, checked when the upload completes"`
	MediaType string `json:"media_type,omitempty" maxLength:"200" doc:"e.g. text/csv; default application/octet-stream"`
}

// Upload is an upload's state.
type Upload struct {
	ID        string    `json:"id"`
	ProductID string    `json:"product_id"`
	Revision  int64     `json:"revision"`
	Path      string    `json:"path"`
	Size      int64     `json:"size"`
	SHA256    string    `json:"sha256,omitempty"`
	MediaType string    `json:"media_type"`
	State     string    `json:"state" enum:"open,complete,aborted"`
	Received  int64     `json:"received" doc:"bytes the server holds: send the next chunk from here"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
}

// File is one file of a revision.
type File struct {
	Path      string    `json:"path"`
	Size      int64     `json:"size"`
	SHA256    string    `json:"sha256"`
	MediaType string    `json:"media_type"`
	AddedAt   time.Time `json:"added_at,omitzero"`
}

// mayAddFiles checks that actor may add files to revision rev of product id: its
// supplier or agent, active, and the revision not sealed yet.
func mayAddFiles(tx *store.Tx, op string, actor dataport.Actor, id string, rev int64) (catalog.Product, error) {
	if err := registry.MayAct(tx, op, actor); err != nil {
		return catalog.Product{}, err
	}
	p, err := catalog.ProductAt(tx, id, rev)
	if err != nil {
		return catalog.Product{}, err
	}
	if actor.ParticipantID != p.SupplierID && actor.ParticipantID != p.AgentID {
		if catalog.CanRead(actor, &p) {
			return catalog.Product{}, dataport.Errorf(op, dataport.KindForbidden, "only the product's supplier or agent adds its files")
		}
		return catalog.Product{}, dataport.Errorf(op, dataport.KindNotFound, "no product %s", id)
	}
	if !actor.Has(dataport.RoleSupplier, dataport.RoleAgent) {
		return catalog.Product{}, dataport.Errorf(op, dataport.KindForbidden, "adding files needs the supplier or agent role")
	}
	var sealed int
	if err := tx.QueryRow(`SELECT COUNT(*) FROM manifests WHERE product_id = $1 AND revision = $2`, id, rev).Scan(&sealed); err != nil {
		return catalog.Product{}, dataport.Internal(op, err)
	}
	if sealed > 0 {
		return catalog.Product{}, dataport.Errorf(op, dataport.KindConflict, "revision %d of %s is sealed: its files are fixed; revise the product for new data", rev, id)
	}
	return p, nil
}

func (n *NewUpload) validate(op string, maxFile int64) error {
	var p dataport.Problems
	if !ValidPath(n.Path) {
		p = append(p, dataport.FieldsOf(badPath(op))...)
	}
	if n.Size < 0 || n.Size > maxFile {
		p.Add("size", "from 0 to %d bytes", maxFile)
	}
	if n.SHA256 != "" && !blob.ValidAddress(n.SHA256) {
		p.Add("sha256", "64 lower-case hex digits")
	}
	if n.MediaType == "" {
		n.MediaType = "application/octet-stream"
	}
	if mt, params, err := mime.ParseMediaType(n.MediaType); err != nil {
		p.Add("media_type", "a media type such as text/csv")
	} else {
		n.MediaType = mime.FormatMediaType(mt, params)
	}
	return p.Err(op)
}

// StartUpload declares a file of revision rev of a product; its bytes follow with
// WriteChunk. Uploading a path the revision already has replaces that file.
func (s *Service) StartUpload(ctx context.Context, actor dataport.Actor, productID string, rev int64, n NewUpload) (Upload, error) {
	const op = "delivery.StartUpload"
	if err := n.validate(op, s.opts.MaxFile); err != nil {
		return Upload{}, err
	}
	u := Upload{ID: dataport.NewID("upl"), ProductID: productID, Revision: rev, Path: n.Path, Size: n.Size,
		SHA256: n.SHA256, MediaType: n.MediaType, State: "open", CreatedBy: actor.ParticipantID}
	// The staging file exists before the upload is acknowledged.
	if err := s.saveState(u.ID, 0, sha256.New()); err != nil {
		s.removeStaged(u.ID)
		return Upload{}, blob.DiskFault(op, err)
	}
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		if _, err := mayAddFiles(tx, op, actor, productID, rev); err != nil {
			return err
		}
		u.CreatedAt = tx.Now()
		now := store.FormatTime(u.CreatedAt)
		if _, err := tx.Exec(`INSERT INTO uploads (id, product_id, revision, path, size, sha256, media_type, state, created_by, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, 'open', $8, $9, $9)`, u.ID, productID, rev, u.Path, u.Size, u.SHA256, u.MediaType, u.CreatedBy, now); err != nil {
			return dataport.Internal(op, err)
		}
		_, err := ledger.File(tx, actor, ledger.Change{Type: "delivery.upload_started", Subjects: []string{u.ID, productID},
			Payload: map[string]any{"product_id": productID, "revision": rev, "path": u.Path, "size": u.Size, "sha256": u.SHA256}})
		return err
	})
	if err != nil {
		s.removeStaged(u.ID)
		return Upload{}, err
	}
	if u.Size == 0 { // nothing to send: complete it now
		u, _, err = s.WriteChunk(ctx, actor, u.ID, 0, eofReader{})
	}
	return u, err
}

// stagingWriter writes an upload's bytes to its staging file and hashes those the
// file took, recording why the file refused the rest.
type stagingWriter struct {
	f   *os.File
	h   hash.Hash
	err error
}

func (w *stagingWriter) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.h.Write(p[:n])
	if err != nil && w.err == nil {
		w.err = err
	}
	return n, err
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// GetUpload reports an upload, with how many bytes the server holds.
func (s *Service) GetUpload(ctx context.Context, actor dataport.Actor, id string) (Upload, error) {
	const op = "delivery.GetUpload"
	var u Upload
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		var err error
		u, err = s.upload(tx, op, actor, id)
		return err
	})
	return u, err
}

func (s *Service) upload(tx *store.Tx, op string, actor dataport.Actor, id string) (Upload, error) {
	var u Upload
	var created string
	err := tx.QueryRow(`SELECT id, product_id, revision, path, size, sha256, media_type, state, created_by, created_at FROM uploads WHERE id = $1`, id).
		Scan(&u.ID, &u.ProductID, &u.Revision, &u.Path, &u.Size, &u.SHA256, &u.MediaType, &u.State, &u.CreatedBy, &created)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && u.CreatedBy != actor.ParticipantID && !actor.Has(dataport.RoleOperator)) {
		return Upload{}, dataport.Errorf(op, dataport.KindNotFound, "no upload %s", id)
	}
	if err != nil {
		return Upload{}, dataport.Internal(op, err)
	}
	u.CreatedAt, _ = store.ParseTime(created)
	switch u.State {
	case "open":
		if st, err := s.loadState(u.ID); err == nil {
			u.Received = st.Offset
		}
	case "complete":
		u.Received = u.Size
	}
	return u, nil
}

// WriteChunk appends the bytes r yields to upload id, which must hold exactly offset
// bytes (KindConflict otherwise, saying how many it holds). What arrives before r
// fails is kept, so the client resumes from there. When the last byte arrives the
// file is checked against its declared SHA-256, stored and added to the revision;
// the File is returned then.
func (s *Service) WriteChunk(ctx context.Context, actor dataport.Actor, id string, offset int64, r io.Reader) (Upload, *File, error) {
	const op = "delivery.WriteChunk"
	u, err := s.GetUpload(ctx, actor, id)
	if err != nil {
		return Upload{}, nil, err
	}
	if u.State != "open" {
		return u, nil, dataport.Errorf(op, dataport.KindConflict, "upload %s is %s", id, u.State)
	}
	s.mu.Lock()
	if s.writing[id] {
		s.mu.Unlock()
		return u, nil, dataport.Errorf(op, dataport.KindConflict, "upload %s is taking another chunk now", id)
	}
	s.writing[id] = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.writing, id)
		s.mu.Unlock()
	}()

	st, err := s.loadState(id)
	if err != nil {
		return u, nil, dataport.Internal(op, err)
	}
	u.Received = st.Offset
	if offset != st.Offset {
		return u, nil, dataport.Errorf(op, dataport.KindConflict, "upload %s holds %d bytes: send the next chunk from offset %d", id, st.Offset, st.Offset)
	}
	f, err := os.OpenFile(s.stagedPath(id), os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return u, nil, dataport.Internal(op, err)
	}
	defer f.Close()
	// A crash may have left bytes after the last saved state: they are not counted.
	if err := f.Truncate(st.Offset); err != nil {
		return u, nil, dataport.Internal(op, err)
	}
	if _, err := f.Seek(st.Offset, io.SeekStart); err != nil {
		return u, nil, dataport.Internal(op, err)
	}
	remaining := u.Size - st.Offset
	// Only what the file took is hashed: a disk that fills up mid-write keeps the
	// bytes it took and the hash state that matches them, for the client to resume.
	staged := &stagingWriter{f: f, h: st.hash}
	n, copyErr := io.Copy(staged, io.LimitReader(r, remaining+1))
	if n > remaining {
		// More than declared: the chunk is refused whole; the upload keeps what it had.
		return u, nil, dataport.Invalid(op, dataport.FieldProblem{Field: "body", Message: fmt.Sprintf("more bytes than the %d declared", u.Size)})
	}
	if err := f.Sync(); err != nil {
		return u, nil, blob.DiskFault(op, err)
	}
	if err := s.saveState(id, st.Offset+n, st.hash); err != nil {
		return u, nil, blob.DiskFault(op, err)
	}
	u.Received = st.Offset + n
	if staged.err != nil { // the server's disk, not the client: 503, resume later
		return u, nil, blob.DiskFault(op, staged.err)
	}
	if copyErr != nil {
		return u, nil, dataport.Errorf(op, dataport.KindInvalid, "the chunk broke off after %d bytes; the upload holds %d: resume from there (%v)", n, u.Received, copyErr)
	}
	if u.Received < u.Size {
		return u, nil, nil
	}
	sum := hex.EncodeToString(st.hash.Sum(nil))
	if u.SHA256 != "" && sum != u.SHA256 {
		s.finish(ctx, actor, u, "aborted", nil)
		u.State = "aborted"
		return u, nil, dataport.Invalid(op, dataport.FieldProblem{Field: "sha256",
			Message: fmt.Sprintf("the file hashes to %s, not the declared %s; the upload is aborted: start again", sum, u.SHA256)})
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return u, nil, dataport.Internal(op, err)
	}
	info, err := s.blobs.Put(ctx, f, u.Size, sum)
	if err != nil {
		return u, nil, dataport.Wrap(op, err)
	}
	file := &File{Path: u.Path, Size: info.Size, SHA256: info.SHA256, MediaType: u.MediaType}
	if err := s.finish(ctx, actor, u, "complete", file); err != nil {
		return u, nil, err
	}
	u.State = "complete"
	return u, file, nil
}

// finish ends an upload: complete, adding its file to the revision, or aborted.
func (s *Service) finish(ctx context.Context, actor dataport.Actor, u Upload, state string, f *File) error {
	const op = "delivery.finish"
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		res, err := tx.Exec(`UPDATE uploads SET state = $2, updated_at = $3 WHERE id = $1 AND state = 'open'`, u.ID, state, store.FormatTime(tx.Now()))
		if err != nil {
			return dataport.Internal(op, err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return dataport.Errorf(op, dataport.KindConflict, "upload %s is no longer open", u.ID)
		}
		if state == "aborted" {
			_, err = ledger.File(tx, actor, ledger.Change{Type: "delivery.upload_aborted", Subjects: []string{u.ID, u.ProductID},
				Payload: map[string]any{"product_id": u.ProductID, "revision": u.Revision, "path": u.Path}})
			return err
		}
		if _, err := mayAddFiles(tx, op, actor, u.ProductID, u.Revision); err != nil {
			return err
		}
		return addFile(tx, op, actor, u.ProductID, u.Revision, f)
	})
	if err == nil {
		s.removeStaged(u.ID)
	}
	return err
}

// addFile records a file of a revision (replacing one at the same path) and files it.
func addFile(tx *store.Tx, op string, actor dataport.Actor, productID string, rev int64, f *File) error {
	f.AddedAt = tx.Now()
	now := store.FormatTime(f.AddedAt)
	if _, err := tx.Exec(`DELETE FROM dataset_files WHERE product_id = $1 AND revision = $2 AND path = $3`, productID, rev, f.Path); err != nil {
		return dataport.Internal(op, err)
	}
	if _, err := tx.Exec(`INSERT INTO dataset_files (product_id, revision, path, size, sha256, media_type, added_by, added_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, productID, rev, f.Path, f.Size, f.SHA256, f.MediaType, actor.ParticipantID, now); err != nil {
		return dataport.Internal(op, err)
	}
	_, err := ledger.File(tx, actor, ledger.Change{Type: "delivery.file_added", Subjects: []string{productID},
		Payload: map[string]any{"product_id": productID, "revision": rev, "path": f.Path, "size": f.Size, "sha256": f.SHA256}})
	return err
}

// AbortUpload gives an open upload up and frees its staged bytes.
func (s *Service) AbortUpload(ctx context.Context, actor dataport.Actor, id string) (Upload, error) {
	const op = "delivery.AbortUpload"
	u, err := s.GetUpload(ctx, actor, id)
	if err != nil {
		return Upload{}, err
	}
	if u.State != "open" {
		return u, dataport.Errorf(op, dataport.KindConflict, "upload %s is %s", id, u.State)
	}
	if err := s.finish(ctx, actor, u, "aborted", nil); err != nil {
		return u, err
	}
	u.State = "aborted"
	return u, nil
}

// PutFile stores a whole file in one request (not resumable): for small files and
// scripts. size -1 when unknown; sum, when given, is checked.
func (s *Service) PutFile(ctx context.Context, actor dataport.Actor, productID string, rev int64, n NewUpload, r io.Reader) (File, error) {
	const op = "delivery.PutFile"
	declared := n.Size
	if n.Size < 0 {
		n.Size = 0
	}
	if err := n.validate(op, s.opts.MaxFile); err != nil {
		return File{}, err
	}
	if err := s.db.Read(ctx, func(tx *store.Tx) error {
		_, err := mayAddFiles(tx, op, actor, productID, rev)
		return err
	}); err != nil {
		return File{}, err
	}
	limit := s.opts.MaxFile
	if declared >= 0 {
		limit = declared
	}
	info, err := s.blobs.Put(ctx, r, limit, n.SHA256)
	if err != nil {
		return File{}, dataport.Wrap(op, err)
	}
	if declared >= 0 && info.Size != declared {
		return File{}, dataport.Invalid(op, dataport.FieldProblem{Field: "size", Message: fmt.Sprintf("%d bytes arrived, %d were declared", info.Size, declared)})
	}
	f := File{Path: n.Path, Size: info.Size, SHA256: info.SHA256, MediaType: n.MediaType}
	err = s.db.Write(ctx, func(tx *store.Tx) error {
		if _, err := mayAddFiles(tx, op, actor, productID, rev); err != nil {
			return err
		}
		return addFile(tx, op, actor, productID, rev, &f)
	})
	return f, err
}

// Files lists a revision's files (its parties, the operator and regulators; anyone
// who may see the revision once it is sealed — see Manifest).
func (s *Service) Files(ctx context.Context, actor dataport.Actor, productID string, rev int64) ([]File, error) {
	const op = "delivery.Files"
	var out []File
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		p, err := catalog.ProductAt(tx, productID, rev)
		if err != nil {
			return err
		}
		if !catalog.CanRead(actor, &p) {
			return dataport.Errorf(op, dataport.KindNotFound, "no product %s", productID)
		}
		out, err = files(tx, op, productID, rev)
		return err
	})
	return out, err
}

func files(tx *store.Tx, op, productID string, rev int64) ([]File, error) {
	rows, err := tx.Query(`SELECT path, size, sha256, media_type, added_at FROM dataset_files
		WHERE product_id = $1 AND revision = $2 ORDER BY path`, productID, rev)
	if err != nil {
		return nil, dataport.Internal(op, err)
	}
	defer rows.Close()
	out := []File{}
	for rows.Next() {
		var f File
		var added string
		if err := rows.Scan(&f.Path, &f.Size, &f.SHA256, &f.MediaType, &added); err != nil {
			return nil, dataport.Internal(op, err)
		}
		f.AddedAt, _ = store.ParseTime(added)
		out = append(out, f)
	}
	return out, dataport.Wrap(op, rows.Err())
}

// Staging: <dir>/<upload id> holds the bytes, <dir>/<upload id>.state the offset
// and the SHA-256 state at that offset, replaced atomically after each chunk.

type state struct {
	Offset int64  `json:"offset"`
	Hash   []byte `json:"hash"` // the hash's marshalled state
	hash   hash.Hash
}

func (s *Service) stagedPath(id string) string { return filepath.Join(s.opts.StagingDir, id) }

func (s *Service) saveState(id string, offset int64, h hash.Hash) error {
	b, err := h.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		return err
	}
	data, _ := json.Marshal(state{Offset: offset, Hash: b})
	tmp := s.stagedPath(id) + ".state.tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, s.stagedPath(id)+".state")
}

func (s *Service) loadState(id string) (state, error) {
	var st state
	data, err := os.ReadFile(s.stagedPath(id) + ".state")
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(data, &st); err != nil {
		return st, err
	}
	st.hash = sha256.New()
	if err := st.hash.(encoding.BinaryUnmarshaler).UnmarshalBinary(st.Hash); err != nil {
		return st, err
	}
	return st, nil
}

func (s *Service) removeStaged(id string) {
	os.Remove(s.stagedPath(id))
	os.Remove(s.stagedPath(id) + ".state")
	os.Remove(s.stagedPath(id) + ".state.tmp")
}

// cleanStaging removes what a process that stopped mid-upload left in the staging
// folder, as the service starts: the files of uploads no longer open (completed or
// aborted just before their files were removed, or never recorded because the
// process stopped before the upload's row committed) and half-written state files.
// The staged bytes of open uploads stay, for the uploads to resume from.
func (s *Service) cleanStaging(ctx context.Context) error {
	entries, err := os.ReadDir(s.opts.StagingDir)
	if err != nil {
		return dataport.Internal("delivery.cleanStaging", err)
	}
	open := map[string]bool{}
	for _, e := range entries {
		name := e.Name()
		if strings.HasSuffix(name, ".state.tmp") {
			os.Remove(filepath.Join(s.opts.StagingDir, name))
			continue
		}
		id := strings.TrimSuffix(name, ".state")
		isOpen, seen := open[id]
		if !seen {
			var state string
			err := s.db.Read(ctx, func(tx *store.Tx) error {
				return tx.QueryRow(`SELECT state FROM uploads WHERE id = $1`, id).Scan(&state)
			})
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return dataport.Internal("delivery.cleanStaging", err)
			}
			isOpen = state == "open"
			open[id] = isOpen
		}
		if !isOpen {
			os.Remove(filepath.Join(s.opts.StagingDir, name))
		}
	}
	return nil
}

// Staged lists what the staging folder holds: open uploads' files, and nothing else
// once every upload has completed or been aborted.
func (s *Service) Staged() ([]string, error) {
	entries, err := os.ReadDir(s.opts.StagingDir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out, nil
}
