package main

// dataport admin backup and restore.
//
// A backup is a folder:
//
//	manifest.json                    what is in it: every file with its size and SHA-256,
//	                                 the engine, the log's size and checkpoint, the version
//	database/dataport.db             SQLite: a consistent copy (VACUUM INTO), or
//	database/dataport.pgdump         PostgreSQL: pg_dump's custom format, one snapshot
//	blobs/sha256/ab/cd/abcd…         every blob of the blob store, as the FS store lays them out
//	keys/log.key, keys/webhook.key   the log's signer key and the webhook secret (0600)
//
// A folder rather than one tar file: restore checks every file's hash before it
// touches anything, which a folder allows without reading an archive twice, and the
// blobs in it are plain files that rsync, restic or a bucket sync can copy
// incrementally (a blob never changes, so the next backup's copy of it is skipped).
//
// Consistency while the exchange runs. The database is copied first, in one read
// transaction (SQLite) or one exported snapshot (PostgreSQL: pg_dump --snapshot),
// and the same snapshot says which blobs the database refers to and how far the log
// was. Blobs are content-addressed and never change, so copying them after the
// snapshot is consistent as long as every blob the snapshot refers to is copied:
// the backup checks that before it is complete. Blobs stored after the snapshot are
// copied too and are harmless.
//
// A backup is built under a temporary name beside its destination and renamed into
// place only once whole, so a half-written backup is never taken for one; an
// existing backup is never overwritten (rename(2) cannot replace a folder that is
// not empty).

import (
	"bufio"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/blob"
	"github.com/dataport/dataport/store"
)

const backupUsage = `  dataport admin backup -out BACKUP
        a consistent backup of the running exchange into the new folder BACKUP:
        the database (SQLite copy, or pg_dump from PATH, DATAPORT_PG_BIN or
        /usr/lib/postgresql/*/bin), every blob, the log and webhook keys
  dataport admin restore -in BACKUP
        check BACKUP and restore it into an empty data folder, database and blob store
`

// backupFormat names the layout above; restore refuses any other.
const backupFormat = "dataport-backup/1"

// backupManifest is manifest.json.
type backupManifest struct {
	Format          string       `json:"format"`
	DataportVersion string       `json:"dataport_version"`
	CreatedAt       time.Time    `json:"created_at"`
	Engine          store.Engine `json:"engine"`
	// PGSchema is the PostgreSQL schema the database lived in.
	PGSchema      string `json:"pg_schema,omitempty"`
	SchemaVersion int64  `json:"schema_version"`
	// Filings is the number of the last filing in the snapshot.
	Filings int64     `json:"filings"`
	Log     backupLog `json:"log"`
	// Blobs counts the blobs copied; Referenced those the snapshot refers to.
	Blobs      int          `json:"blobs"`
	Referenced int          `json:"referenced_blobs"`
	Files      []backupFile `json:"files"`
}

// backupLog is the log as the snapshot holds it: how far the tree was integrated and
// the last checkpoint signed, which the restored log must extend.
type backupLog struct {
	Size       int64  `json:"size"`
	Root       string `json:"root"`
	Checkpoint string `json:"checkpoint,omitempty"`
}

type backupFile struct {
	Path   string `json:"path"` // slash-separated, inside the backup
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

const (
	backupSQLiteFile = "database/dataport.db"
	backupPGFile     = "database/dataport.pgdump"
	backupLogKey     = "keys/log.key"
	backupWebhookKey = "keys/webhook.key"
)

func (c *config) webhookKeyFile() string {
	if c.webhookKey != "" {
		return c.webhookKey
	}
	return filepath.Join(c.dataDir, "webhook.key")
}

// backup writes a backup of the exchange c names into out.
func backup(ctx context.Context, c *config, out string, getenv func(string) string, stdout io.Writer) error {
	const op = "admin backup"
	if out == "" {
		return errors.New("admin backup: -out is required")
	}
	out = filepath.Clean(out)
	if _, err := os.Lstat(out); err == nil {
		return dataport.Errorf(op, dataport.KindConflict, "%s already exists: a backup is never overwritten", out)
	}
	// The keys are read before anything is written: without them a backup could not
	// bring the exchange back (the log could not sign, links and S3 keys would change).
	logKey, err := os.ReadFile(c.logKeyFile())
	if err != nil {
		return fmt.Errorf("%s: the log key: %w (give -log-key or -data of the exchange)", op, err)
	}
	webhookKey, err := os.ReadFile(c.webhookKeyFile())
	if err != nil {
		return fmt.Errorf("%s: the webhook secret: %w (give -webhook-key or -data of the exchange)", op, err)
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o750); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(out), "."+filepath.Base(out)+".partial-")
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	done := false
	defer func() {
		if !done {
			os.RemoveAll(tmp)
		}
	}()
	b := &backupWriter{root: tmp}

	// 1. The database, and what its snapshot refers to.
	m := backupManifest{Format: backupFormat, DataportVersion: version(), CreatedAt: dataport.SystemClock{}.Now().UTC()}
	refs := map[string]bool{}
	dsn := c.dsn()
	switch {
	case strings.HasPrefix(dsn, "sqlite:"):
		err = snapshotSQLite(ctx, strings.TrimPrefix(dsn, "sqlite:"), b, &m, refs)
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		err = snapshotPostgres(ctx, dsn, getenv, b, &m, refs)
	default:
		return dataport.Errorf(op, dataport.KindInvalid, "-db: want sqlite:PATH or postgres://…")
	}
	if err != nil {
		return fmt.Errorf("%s: the database: %w", op, err)
	}

	// 2. Every blob, after the snapshot.
	blobs, err := c.openBlobs(ctx)
	if err != nil {
		return fmt.Errorf("%s: open the blob store: %w", op, err)
	}
	lister, ok := blobs.(blob.Lister)
	if !ok {
		return fmt.Errorf("%s: the blob store cannot list its blobs", op)
	}
	copied := map[string]bool{}
	var blobBytes int64
	err = lister.List(ctx, func(info blob.Info) error {
		obj, err := blobs.Open(ctx, info.SHA256)
		if dataport.KindOf(err) == dataport.KindNotFound {
			return nil // deleted since it was listed: if the snapshot needs it, the check below says so
		}
		if err != nil {
			return err
		}
		defer obj.Close()
		f, err := b.add(blobPath(info.SHA256), obj)
		if err != nil {
			return err
		}
		// Content addressing: a blob whose bytes do not hash to its address is
		// damaged, and a backup of it would be refused at restore.
		if f.SHA256 != info.SHA256 {
			return fmt.Errorf("blob %s is damaged in the blob store: its content hashes to %s", info.SHA256, f.SHA256)
		}
		copied[info.SHA256] = true
		blobBytes += f.Size
		return nil
	})
	if err != nil {
		return fmt.Errorf("%s: copy the blobs: %w", op, err)
	}
	var missing []string
	for sum := range refs {
		if !copied[sum] {
			missing = append(missing, sum)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return fmt.Errorf("%s: the database refers to %d blobs not in the blob store, e.g. %s: the backup would be incomplete", op, len(missing), missing[0])
	}
	m.Blobs, m.Referenced = len(copied), len(refs)

	// 3. The keys.
	for name, key := range map[string][]byte{backupLogKey: logKey, backupWebhookKey: webhookKey} {
		if _, err := b.add(name, strings.NewReader(string(key))); err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
	}

	// 4. The manifest, last; then the whole folder takes its name at once.
	m.Files = b.files
	slices.SortFunc(m.Files, func(x, y backupFile) int { return strings.Compare(x.Path, y.Path) })
	j, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if _, err := b.add("manifest.json", strings.NewReader(string(j)+"\n")); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if err := b.syncDirs(); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if err := os.Rename(tmp, out); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	done = true
	syncDir(filepath.Dir(out))
	fmt.Fprintf(stdout, "backup %s: %s database (schema %d, %d filings, log size %d), %d blobs (%d bytes; %d referenced), 2 keys\n",
		out, m.Engine, m.SchemaVersion, m.Filings, m.Log.Size, m.Blobs, blobBytes, m.Referenced)
	return nil
}

func blobPath(sum string) string {
	return path.Join("blobs", "sha256", sum[:2], sum[2:4], sum)
}

// backupWriter writes the files of a backup under construction, hashing each.
type backupWriter struct {
	root  string
	files []backupFile
	dirs  []string
}

// add writes name (slash-separated) from r, readable by the owner only: a backup
// holds the exchange's secrets and every participant's data.
func (b *backupWriter) add(name string, r io.Reader) (backupFile, error) {
	f, err := b.create(name)
	if err != nil {
		return backupFile{}, err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), r)
	if err == nil {
		err = f.Sync()
	}
	if e := f.Close(); err == nil {
		err = e
	}
	if err != nil {
		return backupFile{}, fmt.Errorf("write %s: %w", name, err)
	}
	return b.record(name, n, hex.EncodeToString(h.Sum(nil))), nil
}

func (b *backupWriter) create(name string) (*os.File, error) {
	p := filepath.Join(b.root, filepath.FromSlash(name))
	dir := filepath.Dir(p)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if !slices.Contains(b.dirs, dir) {
		b.dirs = append(b.dirs, dir)
	}
	return os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
}

func (b *backupWriter) record(name string, size int64, sum string) backupFile {
	f := backupFile{Path: name, Size: size, SHA256: sum}
	if name != "manifest.json" {
		b.files = append(b.files, f)
	}
	return f
}

// hashFile records a file something else wrote (VACUUM INTO, pg_dump), syncing it.
func (b *backupWriter) hashFile(name string) error {
	f, err := os.OpenFile(filepath.Join(b.root, filepath.FromSlash(name)), os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Chmod(0o600); err != nil {
		return err
	}
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	b.record(name, n, hex.EncodeToString(h.Sum(nil)))
	return nil
}

// syncDirs makes the folder entries durable before the rename publishes them.
func (b *backupWriter) syncDirs() error {
	dirs := slices.Clone(b.dirs)
	// Deepest first, then the root, so that each parent is synced after its children.
	slices.SortFunc(dirs, func(x, y string) int { return len(y) - len(x) })
	for _, d := range append(dirs, b.root) {
		if err := syncDir(d); err != nil {
			return err
		}
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// snapshotQueryer is what reads a snapshot: a *sql.DB on a SQLite copy, or the
// PostgreSQL transaction the dump shares.
type snapshotQueryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// blobReferences are the columns that hold blob addresses. Approvals' evidence and
// agency contracts' documents are attachments, so the attachments table covers them;
// a sealed manifest's canonical JSON is a blob named only in its filing.
const blobReferences = `SELECT sha256 FROM attachments
	UNION SELECT sha256 FROM dataset_files
	UNION SELECT bundle_sha256 FROM deals WHERE bundle_sha256 <> ''
	UNION SELECT sha256 FROM dsp_consumer_files`

// readSnapshot fills in from the snapshot q reads: the schema version, the filings,
// the log, and the blobs it refers to.
func readSnapshot(ctx context.Context, q snapshotQueryer, m *backupManifest, refs map[string]bool) error {
	if err := q.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&m.SchemaVersion); err != nil {
		return fmt.Errorf("not a dataport database: %w", err)
	}
	if err := q.QueryRowContext(ctx, `SELECT last_seq FROM filing_sequence`).Scan(&m.Filings); err != nil {
		return err
	}
	if err := q.QueryRowContext(ctx, `SELECT size, root FROM log_tree`).Scan(&m.Log.Size, &m.Log.Root); err != nil {
		return err
	}
	err := q.QueryRowContext(ctx, `SELECT note FROM log_checkpoints ORDER BY size DESC LIMIT 1`).Scan(&m.Log.Checkpoint)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	add := func(sum string) error {
		if !blob.ValidAddress(sum) {
			return fmt.Errorf("the database refers to %q as a blob, which is no blob address", sum)
		}
		refs[sum] = true
		return nil
	}
	rows, err := q.QueryContext(ctx, blobReferences)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var sum string
		if err := rows.Scan(&sum); err != nil {
			return err
		}
		if err := add(sum); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	rows, err = q.QueryContext(ctx, `SELECT payload FROM filings WHERE type = 'delivery.manifest_sealed'`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var payload string
		if err := rows.Scan(&payload); err != nil {
			return err
		}
		var p struct {
			ManifestSHA256 string `json:"manifest_sha256"`
		}
		if err := json.Unmarshal([]byte(payload), &p); err != nil {
			return fmt.Errorf("a manifest's filing: %w", err)
		}
		if err := add(p.ManifestSHA256); err != nil {
			return err
		}
	}
	return rows.Err()
}

// snapshotSQLite copies a live SQLite database with VACUUM INTO, which reads it in
// one transaction: a consistent copy while the server writes (a file copy of a WAL
// database is not — the pages may come from different moments, and the WAL's
// committed frames would be missing).
func snapshotSQLite(ctx context.Context, file string, b *backupWriter, m *backupManifest, refs map[string]bool) error {
	if _, err := os.Stat(file); err != nil {
		return err // never create an empty database to back up
	}
	src, err := sql.Open("sqlite", "file:"+file+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return err
	}
	defer src.Close()
	dest := filepath.Join(b.root, filepath.FromSlash(backupSQLiteFile))
	if err := os.MkdirAll(filepath.Dir(dest), 0o700); err != nil {
		return err
	}
	b.dirs = append(b.dirs, filepath.Dir(dest))
	if _, err := src.ExecContext(ctx, `VACUUM INTO ?`, dest); err != nil {
		return fmt.Errorf("VACUUM INTO: %w", err)
	}
	// Read the copy, not the live database: it is exactly the snapshot. immutable=1
	// opens it without locks or a WAL, changing nothing in it.
	cp, err := sql.Open("sqlite", "file:"+dest+"?mode=ro&immutable=1")
	if err != nil {
		return err
	}
	defer cp.Close()
	m.Engine = store.SQLite
	if err := readSnapshot(ctx, cp, m, refs); err != nil {
		return err
	}
	cp.Close()
	return b.hashFile(backupSQLiteFile)
}

// snapshotPostgres dumps the database's schema with pg_dump in a snapshot this
// process exports and holds (pg_dump --snapshot), reading the log and the blob
// references in that same snapshot.
func snapshotPostgres(ctx context.Context, dsn string, getenv func(string) string, b *backupWriter, m *backupManifest, refs map[string]bool) error {
	pgDump, err := pgTool(getenv, "pg_dump")
	if err != nil {
		return err
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	tx, err := conn.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var snapshot string
	var schema sql.NullString
	if err := tx.QueryRowContext(ctx, `SELECT pg_export_snapshot(), current_schema()`).Scan(&snapshot, &schema); err != nil {
		return err
	}
	if !schema.Valid {
		return errors.New("the database's search_path names no schema that exists")
	}
	m.Engine, m.PGSchema = store.Postgres, schema.String
	if err := readSnapshot(ctx, tx, m, refs); err != nil {
		return err
	}
	dest := filepath.Join(b.root, filepath.FromSlash(backupPGFile))
	if err := os.MkdirAll(filepath.Dir(dest), 0o700); err != nil {
		return err
	}
	b.dirs = append(b.dirs, filepath.Dir(dest))
	conninfo, password, err := libpqURL(dsn)
	if err != nil {
		return err
	}
	// Custom format: compressed, and pg_restore can list and pick its entries. No
	// owners or grants: the restore may run as another role.
	cmd := exec.CommandContext(ctx, pgDump, "--format=custom", "--snapshot="+snapshot, "--schema="+schema.String,
		"--no-owner", "--no-privileges", "--file="+dest, "--dbname="+conninfo)
	if err := runPG(cmd, password); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	return b.hashFile(backupPGFile)
}

// pgTool finds a PostgreSQL client program: in $DATAPORT_PG_BIN, on PATH, or in
// Debian's /usr/lib/postgresql/<version>/bin (the newest: pg_dump must be at least
// the server's version).
func pgTool(getenv func(string) string, name string) (string, error) {
	if dir := getenv("DATAPORT_PG_BIN"); dir != "" {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("DATAPORT_PG_BIN=%s: no %s there", dir, name)
		}
		return p, nil
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/" + name)
	slices.SortFunc(found, func(x, y string) int {
		vx, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(x))))
		vy, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(y))))
		return vx - vy
	})
	if len(found) > 0 {
		return found[len(found)-1], nil
	}
	return "", fmt.Errorf("%s not found: install the PostgreSQL client programs (the server's version or newer), or set DATAPORT_PG_BIN to the folder that holds them", name)
}

// libpqURL turns a pgx database URL into one libpq's programs take: without the
// parameters only pgx knows (search_path: the schema is passed on its own), and
// without the password, which goes in PGPASSWORD rather than on a command line that
// every user of the machine can read.
func libpqURL(dsn string) (string, string, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return "", "", fmt.Errorf("-db: %w", err)
	}
	password := ""
	if u.User != nil {
		password, _ = u.User.Password()
		u.User = url.User(u.User.Username())
	}
	q := url.Values{}
	for k, v := range u.Query() {
		switch k {
		case "sslmode", "sslcert", "sslkey", "sslrootcert", "sslcrl", "sslpassword", "connect_timeout",
			"application_name", "target_session_attrs", "channel_binding", "gssencmode", "service", "passfile", "host", "port":
			q[k] = v
		}
	}
	u.RawQuery = q.Encode()
	return u.String(), password, nil
}

// runPG runs a PostgreSQL client program, returning its complaint as the error.
func runPG(cmd *exec.Cmd, password string) error {
	cmd.Env = os.Environ()
	if password != "" {
		cmd.Env = append(cmd.Env, "PGPASSWORD="+password)
	}
	var errOut strings.Builder
	cmd.Stderr = &errOut
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(errOut.String())
		if msg == "" {
			msg = err.Error()
		}
		return fmt.Errorf("%s: %s", filepath.Base(cmd.Path), msg)
	}
	return nil
}

// restore restores the backup in into the exchange c names, which must be empty.
func restore(ctx context.Context, c *config, in string, getenv func(string) string, stdout io.Writer) error {
	const op = "admin restore"
	if in == "" {
		return errors.New("admin restore: -in is required")
	}
	// 1. The backup is whole and undamaged, before anything is touched.
	m, err := checkBackup(in)
	if err != nil {
		return err
	}

	// 2. The target is empty: database, keys, blobs.
	dsn := c.dsn()
	engine := store.SQLite
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		engine = store.Postgres
	} else if !strings.HasPrefix(dsn, "sqlite:") {
		return dataport.Errorf(op, dataport.KindInvalid, "-db: want sqlite:PATH or postgres://…")
	}
	if engine != m.Engine {
		return dataport.Errorf(op, dataport.KindInvalid, "the backup holds a %s database and the target is %s: restore into the same engine", m.Engine, engine)
	}
	var pg *pgTarget
	switch engine {
	case store.SQLite:
		file := strings.TrimPrefix(dsn, "sqlite:")
		for _, f := range []string{file, file + "-wal"} {
			if _, err := os.Lstat(f); err == nil {
				return dataport.Errorf(op, dataport.KindConflict, "the target database %s already exists: restore into a new data folder", f)
			}
		}
	case store.Postgres:
		if pg, err = openPGTarget(ctx, dsn, m.PGSchema); err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
		defer pg.db.Close()
	}
	for _, f := range []string{c.logKeyFile(), c.webhookKeyFile()} {
		if _, err := os.Lstat(f); err == nil {
			return dataport.Errorf(op, dataport.KindConflict, "the target already has a key %s: restore into a new data folder", f)
		}
	}
	if err := checkBlobTarget(ctx, c); err != nil {
		return err
	}

	// 3. The database.
	switch engine {
	case store.SQLite:
		err = restoreSQLite(filepath.Join(in, filepath.FromSlash(backupSQLiteFile)), strings.TrimPrefix(dsn, "sqlite:"))
	case store.Postgres:
		err = pg.restore(ctx, filepath.Join(in, filepath.FromSlash(backupPGFile)), dsn, getenv)
	}
	if err != nil {
		return fmt.Errorf("%s: the database: %w", op, err)
	}

	// 4. The blobs: Put checks each against its address once more.
	blobs, err := c.openBlobs(ctx)
	if err != nil {
		return fmt.Errorf("%s: open the blob store: %w", op, err)
	}
	n := 0
	for _, f := range m.Files {
		if !strings.HasPrefix(f.Path, "blobs/") {
			continue
		}
		if err := restoreBlob(ctx, blobs, filepath.Join(in, filepath.FromSlash(f.Path)), f); err != nil {
			return fmt.Errorf("%s: blob %s: %w", op, f.SHA256, err)
		}
		n++
	}

	// 5. The keys.
	for name, dest := range map[string]string{backupLogKey: c.logKeyFile(), backupWebhookKey: c.webhookKeyFile()} {
		key, err := os.ReadFile(filepath.Join(in, filepath.FromSlash(name)))
		if err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
		if err := writeKeyFile(dest, strings.TrimSpace(string(key))); err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
	}
	fmt.Fprintf(stdout, "restored %s (taken %s by dataport %s): %s database (schema %d, %d filings, log size %d), %d blobs, 2 keys\n",
		in, m.CreatedAt.Format(time.RFC3339), m.DataportVersion, m.Engine, m.SchemaVersion, m.Filings, m.Log.Size, n)
	return nil
}

// checkBackup reads the manifest and checks every file it lists against its size and
// SHA-256, and that a backup's parts are all there.
func checkBackup(in string) (backupManifest, error) {
	const op = "admin restore"
	var m backupManifest
	raw, err := os.ReadFile(filepath.Join(in, "manifest.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return m, dataport.Errorf(op, dataport.KindInvalid, "%s is not a dataport backup: it has no manifest.json", in)
	}
	if err != nil {
		return m, fmt.Errorf("%s: %w", op, err)
	}
	damaged := func(format string, args ...any) error {
		return dataport.Errorf(op, dataport.KindInvalid, "the backup %s is damaged: %s; nothing was restored", in, fmt.Sprintf(format, args...))
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return m, damaged("manifest.json: %v", err)
	}
	if m.Format != backupFormat {
		return m, dataport.Errorf(op, dataport.KindInvalid, "%s: backup format %q, this dataport reads %q", in, m.Format, backupFormat)
	}
	want := map[string]bool{backupLogKey: false, backupWebhookKey: false}
	switch m.Engine {
	case store.SQLite:
		want[backupSQLiteFile] = false
	case store.Postgres:
		want[backupPGFile] = false
	default:
		return m, damaged("manifest.json names the engine %q", m.Engine)
	}
	for _, f := range m.Files {
		// Paths come from the file being checked: none may leave the backup.
		if !filepath.IsLocal(filepath.FromSlash(f.Path)) || path.Clean(f.Path) != f.Path {
			return m, damaged("manifest.json lists the path %q", f.Path)
		}
		if strings.HasPrefix(f.Path, "blobs/") && (!blob.ValidAddress(f.SHA256) || f.Path != blobPath(f.SHA256)) {
			return m, damaged("%s is not at its blob address", f.Path)
		}
		if _, ok := want[f.Path]; ok {
			want[f.Path] = true
		}
		size, sum, err := hashPath(filepath.Join(in, filepath.FromSlash(f.Path)))
		if err != nil {
			return m, damaged("%s: %v", f.Path, err)
		}
		if size != f.Size || sum != f.SHA256 {
			return m, damaged("%s has %d bytes with SHA-256 %s; the manifest says %d bytes with %s", f.Path, size, sum, f.Size, f.SHA256)
		}
	}
	for name, ok := range want {
		if !ok {
			return m, damaged("the manifest lists no %s", name)
		}
	}
	return m, nil
}

func hashPath(p string) (int64, string, error) {
	f, err := os.Open(p)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, bufio.NewReaderSize(f, 1<<20))
	if err != nil {
		return 0, "", err
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

// checkBlobTarget refuses a blob store that holds any blob, or a folder that holds
// anything at all, without creating either.
func checkBlobTarget(ctx context.Context, c *config) error {
	const op = "admin restore"
	if strings.HasPrefix(c.blobs, "http://") || strings.HasPrefix(c.blobs, "https://") {
		blobs, err := c.openBlobs(ctx)
		if err != nil {
			return fmt.Errorf("%s: open the blob store: %w", op, err)
		}
		errFound := errors.New("found")
		err = blobs.(blob.Lister).List(ctx, func(blob.Info) error { return errFound })
		if errors.Is(err, errFound) {
			return dataport.Errorf(op, dataport.KindConflict, "the target blob store already holds blobs: restore into an empty bucket or prefix")
		}
		return err
	}
	dir := c.blobDir()
	errFound := errors.New("found")
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return errFound
		}
		return nil
	})
	switch {
	case errors.Is(err, errFound):
		return dataport.Errorf(op, dataport.KindConflict, "the target blob folder %s is not empty: restore into a new data folder", dir)
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

// restoreSQLite copies the database into place under a temporary name and links it
// to its own, which fails rather than replace a database that appeared meanwhile.
func restoreSQLite(from, to string) error {
	if err := os.MkdirAll(filepath.Dir(to), 0o750); err != nil {
		return err
	}
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	tmp, err := os.CreateTemp(filepath.Dir(to), "."+filepath.Base(to)+".restore-")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	_, err = io.Copy(tmp, src)
	if err == nil {
		err = tmp.Chmod(0o600)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if e := tmp.Close(); err == nil {
		err = e
	}
	if err != nil {
		return err
	}
	if err := os.Link(tmp.Name(), to); err != nil {
		return err
	}
	return syncDir(filepath.Dir(to))
}

func restoreBlob(ctx context.Context, blobs blob.Store, file string, f backupFile) error {
	r, err := os.Open(file)
	if err != nil {
		return err
	}
	defer r.Close()
	_, err = blobs.Put(ctx, r, f.Size, f.SHA256)
	return err
}

// pgTarget is the PostgreSQL database a backup is restored into: the schema its
// search_path resolves to, which must hold no table.
type pgTarget struct {
	db     *sql.DB
	schema string // the target's
	from   string // the backup's
}

func openPGTarget(ctx context.Context, dsn, from string) (*pgTarget, error) {
	const op = "admin restore"
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, err
	}
	t := &pgTarget{db: db, from: from}
	fail := func(err error) (*pgTarget, error) {
		db.Close()
		return nil, err
	}
	var schema sql.NullString
	if err := db.QueryRowContext(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return fail(err)
	}
	if !schema.Valid {
		return fail(dataport.Errorf(op, dataport.KindInvalid, "the target database's search_path names no schema that exists: create it first"))
	}
	t.schema = schema.String
	var n int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace
		WHERE s.nspname = $1 AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')`, t.schema).Scan(&n); err != nil {
		return fail(err)
	}
	if n > 0 {
		return fail(dataport.Errorf(op, dataport.KindConflict, "the target schema %s already holds %d tables, views or sequences: restore into an empty schema or a new database", t.schema, n))
	}
	if t.schema != t.from {
		// The dump names its objects by the backup's schema: restore renames the
		// target's to that name for the while, which must be free in this database.
		var exists bool
		if err := db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)`, t.from).Scan(&exists); err != nil {
			return fail(err)
		}
		if exists {
			return fail(dataport.Errorf(op, dataport.KindConflict, "the backup's schema %s already exists in the target database beside %s: restore into another database", t.from, t.schema))
		}
	}
	return t, nil
}

// restore runs pg_restore in one transaction (all or nothing), leaving out the
// schema's own entry: the target schema exists already, perhaps under another name.
func (t *pgTarget) restore(ctx context.Context, dump, dsn string, getenv func(string) string) (err error) {
	pgRestore, err := pgTool(getenv, "pg_restore")
	if err != nil {
		return err
	}
	conninfo, password, err := libpqURL(dsn)
	if err != nil {
		return err
	}
	list := exec.CommandContext(ctx, pgRestore, "--list", dump)
	var toc strings.Builder
	list.Stdout = &toc
	if err := runPG(list, password); err != nil {
		return err
	}
	var keep []string
	for line := range strings.SplitSeq(toc.String(), "\n") {
		// "7; 2615 16470 SCHEMA - name owner" and "COMMENT - SCHEMA name": the
		// schema exists in the target and is not the backup's to describe.
		if strings.Contains(line, " SCHEMA - ") || strings.Contains(line, " COMMENT - SCHEMA ") {
			continue
		}
		keep = append(keep, line)
	}
	listFile, err := os.CreateTemp("", "dataport-restore-*.list")
	if err != nil {
		return err
	}
	defer os.Remove(listFile.Name())
	if _, err := listFile.WriteString(strings.Join(keep, "\n")); err != nil {
		listFile.Close()
		return err
	}
	listFile.Close()

	if t.schema != t.from {
		if _, err := t.db.ExecContext(ctx, `ALTER SCHEMA `+quoteIdent(t.schema)+` RENAME TO `+quoteIdent(t.from)); err != nil {
			return err
		}
		defer func() {
			_, e := t.db.ExecContext(context.WithoutCancel(ctx), `ALTER SCHEMA `+quoteIdent(t.from)+` RENAME TO `+quoteIdent(t.schema))
			if err == nil && e != nil {
				err = fmt.Errorf("rename the schema back to %s: %w", t.schema, e)
			}
		}()
	}
	cmd := exec.CommandContext(ctx, pgRestore, "--single-transaction", "--exit-on-error", "--no-owner", "--no-privileges",
		"--use-list="+listFile.Name(), "--dbname="+conninfo, dump)
	return runPG(cmd, password)
}

// quoteIdent quotes a PostgreSQL identifier.
func quoteIdent(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}
