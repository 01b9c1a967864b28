package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/gowebpki/jcs"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/blob"
	"github.com/dataport/dataport/ledger"
	"github.com/dataport/dataport/store"
	"github.com/dataport/dataport/trade"
)

// dataport admin check: the consistency check of an exchange's data, run after a
// crash, a restore or a migration, offline or beside a running server. It prints a
// line per check and fails when any check does:
//
//   - filings: gap-free, each row matching its entry (the RFC 8785 leaf), so every
//     filing not yet in the tree can be integrated as it stands;
//   - log: the stored tree hashes rebuild the latest signed checkpoint's root, every
//     entry hashes to its leaf (ledger.VerifyLog over the store), and every
//     checkpoint ever signed is a prefix of that tree;
//   - books: every posting balances, the balances are the sum of the postings, and
//     all of them together are zero in each currency;
//   - blobs: every blob a row names is in the blob store, with the size recorded;
//   - unreferenced blobs, and the temporary files of uploads and ingest.
//
// A blob is written before the row naming it commits (blob.Store: content first),
// and a temporary file lives while its request does: beside a running server, a
// blob nothing names yet or a temporary file may belong to work in flight. Only
// those older than -grace (by default the day after which the blob stores sweep
// their own abandoned uploads) fail the check; younger ones are reported. -repair
// removes what fails on age: unreferenced blobs, abandoned uploads and temporary
// files. A blob any filing cites (a replaced file, a manifest) is never
// unreferenced: the log is its evidence.

const checkUsage = `Usage:
  dataport admin check [-grace 24h] [-contents] [-repair]
        check the data's consistency: the log, the books, the blobs and the
        temporary files; one line per check, and a failure when any fails
`

// blobAddress finds blob addresses in filing payloads.
var blobAddress = regexp.MustCompile(`"([0-9a-f]{64})"`)

type checker struct {
	ctx      context.Context
	c        *config
	db       *store.DB
	blobs    blob.Store
	out      io.Writer
	grace    time.Duration
	contents bool
	repair   bool
	now      time.Time

	checks, failed int
	// cited holds every blob address a row names or a filing's payload carries.
	cited map[string]bool
}

func adminCheck(ctx context.Context, fs *flag.FlagSet, c *config, args []string, stdout, stderr io.Writer) error {
	grace := fs.Duration("grace", 24*time.Hour, "how old an unreferenced blob or a temporary file must be to fail the check (younger ones may belong to work in flight)")
	contents := fs.Bool("contents", false, "also read every referenced blob and check its SHA-256")
	repair := fs.Bool("repair", false, "remove the unreferenced blobs and temporary files older than -grace")
	fs.Usage = func() { fmt.Fprint(stderr, checkUsage); fs.PrintDefaults() }
	if err := parse(fs, args); err != nil {
		return err
	}
	if *grace < 0 {
		return fmt.Errorf("admin check: -grace %s: must not be negative", *grace)
	}
	// A check changes nothing: it must not create the database it was to check.
	if c.db == "" {
		if _, err := os.Stat(filepath.Join(c.dataDir, "dataport.db")); err != nil {
			return fmt.Errorf("admin check: no database in %s (-data, -db): %w", c.dataDir, errors.Unwrap(err))
		}
	}
	db, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	blobs, err := c.openBlobs(ctx)
	if err != nil {
		return fmt.Errorf("admin check: open the blob store: %w", err)
	}
	k := &checker{ctx: ctx, c: c, db: db, blobs: blobs, out: stdout, grace: *grace, contents: *contents, repair: *repair,
		now: db.Clock().Now(), cited: map[string]bool{}}
	k.run("filings", k.filings)
	k.run("log", k.log)
	k.run("checkpoints", k.checkpoints)
	k.run("books", k.books)
	k.run("blobs", k.referencedBlobs)
	k.run("unreferenced blobs", k.unreferencedBlobs)
	k.run("upload staging", k.staging)
	k.run("ingest spool", k.spool)
	k.run("blob uploads", k.blobUploads)
	if k.failed > 0 {
		return fmt.Errorf("admin check: %d of %d checks failed", k.failed, k.checks)
	}
	fmt.Fprintf(stdout, "all %d checks passed\n", k.checks)
	return nil
}

// run runs one check and prints its line: what it found, or why it failed.
func (k *checker) run(name string, check func() (string, error)) {
	k.checks++
	msg, err := check()
	if err != nil {
		k.failed++
		fmt.Fprintf(k.out, "FAIL  %s: %s\n", name, oneLine(err))
		return
	}
	fmt.Fprintf(k.out, "ok    %s: %s\n", name, msg)
}

// problems collects what a check found wrong, keeping the first few to show.
type problems struct {
	n     int
	shown []string
}

func (p *problems) add(format string, args ...any) {
	p.n++
	if len(p.shown) < 5 {
		p.shown = append(p.shown, fmt.Sprintf(format, args...))
	}
}

func (p *problems) err() error {
	if p.n == 0 {
		return nil
	}
	s := strings.Join(p.shown, "; ")
	if p.n > len(p.shown) {
		s += fmt.Sprintf("; and %d more", p.n-len(p.shown))
	}
	return errors.New(s)
}

// filedEntry is a filing's entry as the log holds it.
type filedEntry struct {
	Seq      json.Number     `json:"seq"`
	FiledAt  string          `json:"filed_at"`
	Actor    string          `json:"actor"`
	KeyID    string          `json:"key_id"`
	Type     string          `json:"type"`
	Subjects []string        `json:"subjects"`
	Payload  json.RawMessage `json:"payload"`
}

// filings checks every filing row against its entry: the entry is canonical
// (RFC 8785), its SHA-256 is the one stored, and its fields are the row's columns
// and subjects. An entry that passes can be integrated into the tree as it stands.
func (k *checker) filings() (string, error) {
	var last int64
	if err := k.db.Read(k.ctx, func(tx *store.Tx) error {
		var err error
		last, err = ledger.Size(tx)
		return err
	}); err != nil {
		return "", err
	}
	var p problems
	var n, want int64 = 0, 1
	for after := int64(0); after < last; {
		type row struct {
			seq                                            int64
			filedAt, actor, keyID, typ, payload, entry, sh string
		}
		var page []row
		subjects := map[int64][]string{}
		err := k.db.Read(k.ctx, func(tx *store.Tx) error {
			rows, err := tx.Query(`SELECT seq, filed_at, actor, key_id, type, payload, entry, sha256 FROM filings
				WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT 1000`, after, last)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var r row
				if err := rows.Scan(&r.seq, &r.filedAt, &r.actor, &r.keyID, &r.typ, &r.payload, &r.entry, &r.sh); err != nil {
					return err
				}
				page = append(page, r)
			}
			if err := rows.Err(); err != nil || len(page) == 0 {
				return err
			}
			srows, err := tx.Query(`SELECT seq, subject FROM filing_subjects WHERE seq > $1 AND seq <= $2`, after, page[len(page)-1].seq)
			if err != nil {
				return err
			}
			defer srows.Close()
			for srows.Next() {
				var seq int64
				var s string
				if err := srows.Scan(&seq, &s); err != nil {
					return err
				}
				subjects[seq] = append(subjects[seq], s)
			}
			return srows.Err()
		})
		if err != nil {
			return "", err
		}
		if len(page) == 0 {
			break
		}
		for _, r := range page {
			n++
			if r.seq != want {
				p.add("filing %d follows %d: the filings have a gap", r.seq, want-1)
			}
			want = r.seq + 1
			sum := sha256.Sum256([]byte(r.entry))
			if hex.EncodeToString(sum[:]) != r.sh {
				p.add("filing %d: its entry hashes to %x, the row says %s", r.seq, sum, r.sh)
			}
			if len(r.entry) > ledger.MaxEntryBytes {
				p.add("filing %d: its entry is %d bytes, over the log's %d", r.seq, len(r.entry), ledger.MaxEntryBytes)
			}
			if canon, err := jcs.Transform([]byte(r.entry)); err != nil || !bytes.Equal(canon, []byte(r.entry)) {
				p.add("filing %d: its entry is not RFC 8785 canonical JSON", r.seq)
				continue
			}
			d := json.NewDecoder(strings.NewReader(r.entry))
			d.UseNumber()
			var e filedEntry
			if err := d.Decode(&e); err != nil {
				p.add("filing %d: its entry does not parse: %v", r.seq, err)
				continue
			}
			var differ []string
			for _, f := range []struct{ name, entry, row string }{
				{"seq", e.Seq.String(), fmt.Sprint(r.seq)}, {"filed_at", e.FiledAt, r.filedAt}, {"actor", e.Actor, r.actor},
				{"key_id", e.KeyID, r.keyID}, {"type", e.Type, r.typ}, {"payload", string(e.Payload), r.payload},
			} {
				if f.entry != f.row {
					differ = append(differ, f.name)
				}
			}
			if !sameSet(e.Subjects, subjects[r.seq]) {
				differ = append(differ, "subjects")
			}
			if len(differ) == 1 {
				p.add("filing %d: the row's %s differs from its entry: the row was altered", r.seq, differ[0])
			} else if len(differ) > 1 {
				p.add("filing %d: the row's %s differ from its entry: the row was altered", r.seq, strings.Join(differ, ", "))
			}
			for _, m := range blobAddress.FindAllStringSubmatch(r.payload, -1) {
				k.cited[m[1]] = true
			}
		}
		after = page[len(page)-1].seq
	}
	if n != last {
		p.add("the sequence says %d filings, %d are stored", last, n)
	}
	if err := p.err(); err != nil {
		return "", err
	}
	return fmt.Sprintf("%d filings, gap-free, each row matching its canonical entry", n), nil
}

func sameSet(a, b []string) bool {
	m := map[string]bool{}
	for _, s := range a {
		m[s] = true
	}
	if len(m) != len(b) {
		return false
	}
	for _, s := range b {
		if !m[s] {
			return false
		}
	}
	return true
}

// logKey reads the log's signer key, the verifier key following from it.
func (k *checker) logKey() (skey, vkey string, err error) {
	b, err := os.ReadFile(k.c.logKeyFile())
	if err != nil {
		return "", "", fmt.Errorf("the log key, to verify the checkpoints with: %v (-log-key)", err)
	}
	skey = strings.TrimSpace(string(b))
	vkey, err = ledger.VerifierKey(skey)
	return skey, vkey, err
}

// storeSource serves the log from the store as /log/ serves it over HTTP, so that
// ledger.VerifyLog checks the stored tree exactly as a verifier outside would.
type storeSource struct{ l *ledger.Log }

func (s storeSource) Fetch(ctx context.Context, path string) ([]byte, error) {
	if path == "checkpoint" {
		cp, _ := s.l.Latest()
		return cp.Note, nil
	}
	t, err := ledger.ParseTilePath(path)
	if err != nil {
		return nil, err
	}
	return s.l.ReadTile(ctx, t)
}

// log verifies the stored tree against the latest signed checkpoint, entry by entry.
func (k *checker) log() (string, error) {
	skey, vkey, err := k.logKey()
	if err != nil {
		return "", err
	}
	l, err := ledger.OpenLog(k.ctx, k.db, skey, nil)
	if err != nil {
		return "", err
	}
	latest, ok := l.Latest()
	if !ok {
		return "no checkpoint signed yet", nil
	}
	// The tree's row and the latest checkpoint are written in one transaction.
	var size int64
	var root string
	if err := k.db.Read(k.ctx, func(tx *store.Tx) error {
		return tx.QueryRow(`SELECT size, root FROM log_tree WHERE id = 1`).Scan(&size, &root)
	}); err != nil {
		return "", err
	}
	if size < latest.Size {
		return "", fmt.Errorf("the tree holds %d leaves, but a checkpoint of size %d was signed", size, latest.Size)
	}
	rep, err := ledger.VerifyLog(k.ctx, storeSource{l}, ledger.VerifyOptions{Key: vkey, Entries: true})
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("the stored tree rebuilds the signed root of size %d; %d tiles, %d entries verified", rep.Checkpoint.Size, rep.Tiles, rep.Entries), nil
}

// storedHashes reads the tree's stored hashes (tlog's layout) from the store.
type storedHashes struct {
	ctx context.Context
	db  *store.DB
}

func (s storedHashes) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	err := s.db.Read(s.ctx, func(tx *store.Tx) error {
		for i, id := range indexes {
			var h string
			if err := tx.QueryRow(`SELECT hash FROM log_hashes WHERE id = $1`, id).Scan(&h); err != nil {
				return fmt.Errorf("stored hash %d: %v", id, err)
			}
			b, err := hex.DecodeString(h)
			if err != nil || len(b) != len(out[i]) {
				return fmt.Errorf("stored hash %d is not a hex SHA-256", id)
			}
			copy(out[i][:], b)
		}
		return nil
	})
	return out, err
}

// checkpoints checks every checkpoint the log ever signed: signed by the log's key,
// its row matching its note, and its root that of the stored tree's first size
// leaves — so each is a prefix of the latest, which the log check tied to the
// entries.
func (k *checker) checkpoints() (string, error) {
	_, vkey, err := k.logKey()
	if err != nil {
		return "", err
	}
	type row struct {
		size       int64
		root, note string
	}
	var all []row
	if err := k.db.Read(k.ctx, func(tx *store.Tx) error {
		rows, err := tx.Query(`SELECT size, root, note FROM log_checkpoints ORDER BY size`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.size, &r.root, &r.note); err != nil {
				return err
			}
			all = append(all, r)
		}
		return rows.Err()
	}); err != nil {
		return "", err
	}
	var p problems
	hashes := storedHashes{k.ctx, k.db}
	for _, r := range all {
		cp, err := ledger.OpenCheckpoint([]byte(r.note), vkey)
		if err != nil {
			p.add("checkpoint of size %d: %v", r.size, err)
			continue
		}
		if cp.Size != r.size || hex.EncodeToString(cp.Root[:]) != r.root {
			p.add("checkpoint of size %d: its row says size %d, root %s; its note size %d, root %x", r.size, r.size, r.root, cp.Size, cp.Root[:])
			continue
		}
		h, err := tlog.TreeHash(cp.Size, hashes)
		if err != nil {
			p.add("checkpoint of size %d: %v", r.size, err)
			continue
		}
		if h != cp.Root {
			p.add("checkpoint of size %d signs root %x, but the stored tree's first %d leaves have root %x: the checkpoints are not consistent", cp.Size, cp.Root[:], cp.Size, h[:])
		}
	}
	if err := p.err(); err != nil {
		return "", err
	}
	return fmt.Sprintf("%d signed checkpoints, each a prefix of the stored tree", len(all)), nil
}

// books checks the double-entry books (trade): every posting's lines sum to zero,
// each balance is the sum of its account's lines, and so all balances together are
// zero in each currency (trade.Service.TrialBalance).
func (k *checker) books() (string, error) {
	var p problems
	err := k.db.Read(k.ctx, func(tx *store.Tx) error {
		rows, err := tx.Query(`SELECT posting_id, currency, SUM(amount) FROM posting_lines
			GROUP BY posting_id, currency HAVING SUM(amount) <> 0 ORDER BY posting_id LIMIT 100`)
		if err != nil {
			return err
		}
		for rows.Next() {
			var id, cur string
			var n int64
			if err := rows.Scan(&id, &cur, &n); err != nil {
				rows.Close()
				return err
			}
			p.add("posting %s does not balance: its %s lines sum to %d", id, cur, n)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		// One statement: one snapshot of both tables on either engine.
		rows, err = tx.Query(`SELECT account, currency, SUM(x) FROM (
				SELECT account, currency, amount AS x FROM posting_lines
				UNION ALL SELECT account, currency, -amount AS x FROM balances) AS b
			GROUP BY account, currency HAVING SUM(x) <> 0 ORDER BY account, currency LIMIT 100`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var acct, cur string
			var n int64
			if err := rows.Scan(&acct, &cur, &n); err != nil {
				return err
			}
			p.add("balance of %s in %s is %d off the sum of its postings", acct, cur, -n)
		}
		return rows.Err()
	})
	if err != nil {
		return "", err
	}
	totals, err := trade.New(k.db, nil, nil, nil, nil, trade.Options{}).TrialBalance(k.ctx, dataport.System)
	if err != nil {
		return "", err
	}
	currencies := make([]string, 0, len(totals))
	for cur, n := range totals {
		currencies = append(currencies, cur)
		if n != 0 {
			p.add("the trial balance in %s is %d, not zero", cur, n)
		}
	}
	if err := p.err(); err != nil {
		return "", err
	}
	sort.Strings(currencies)
	if len(currencies) == 0 {
		return "no postings", nil
	}
	return fmt.Sprintf("every posting balances; the trial balance is zero in %s", strings.Join(currencies, ", ")), nil
}

// blobRef is a row's reference to a blob; size is -1 where the row records none.
type blobRef struct {
	where string
	size  int64
}

// references lists every blob a row names: attachments, revisions' files, sealed
// manifests (their address is in the sealing filing), deals' signed contract
// bundles, files pulled by DSP transfers.
func (k *checker) references() (map[string][]blobRef, error) {
	refs := map[string][]blobRef{}
	queries := []struct {
		kind, q string
	}{
		{"attachment", `SELECT sha256, size, participant_id FROM attachments`},
		{"file", `SELECT sha256, size, product_id || ' revision ' || CAST(revision AS TEXT) || ' ' || path FROM dataset_files`},
		{"contract bundle", `SELECT bundle_sha256, -1, id FROM deals WHERE bundle_sha256 <> ''`},
		{"pulled file", `SELECT sha256, size, transfer_id || ' ' || path FROM dsp_consumer_files`},
		{"manifest", `SELECT f.payload, -1, m.product_id || ' revision ' || CAST(m.revision AS TEXT) FROM manifests m JOIN filings f ON f.seq = m.filing_seq`},
	}
	err := k.db.Read(k.ctx, func(tx *store.Tx) error {
		for _, q := range queries {
			rows, err := tx.Query(q.q)
			if err != nil {
				return fmt.Errorf("%s: %v", q.kind, err)
			}
			for rows.Next() {
				var sum, where string
				var size int64
				if err := rows.Scan(&sum, &size, &where); err != nil {
					rows.Close()
					return err
				}
				if q.kind == "manifest" {
					var sealed struct {
						SHA256 string `json:"manifest_sha256"`
					}
					json.Unmarshal([]byte(sum), &sealed)
					sum = sealed.SHA256
				}
				refs[sum] = append(refs[sum], blobRef{where: q.kind + " " + where, size: size})
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
		}
		return nil
	})
	return refs, err
}

// referencedBlobs checks that every blob a row names is stored, with the size the
// row records (with -contents, the SHA-256 of its bytes too).
func (k *checker) referencedBlobs() (string, error) {
	refs, err := k.references()
	if err != nil {
		return "", err
	}
	for sum := range refs {
		k.cited[sum] = true
	}
	var p problems
	var stored int64
	for sum, rs := range refs {
		if !blob.ValidAddress(sum) {
			p.add("%s names %q, which is no blob address", rs[0].where, sum)
			continue
		}
		info, err := k.blobs.Stat(k.ctx, sum)
		if dataport.KindOf(err) == dataport.KindNotFound {
			p.add("%s: blob %s is missing", rs[0].where, sum)
			continue
		}
		if err != nil {
			return "", err
		}
		stored += info.Size
		for _, r := range rs {
			if r.size >= 0 && r.size != info.Size {
				p.add("%s records %d bytes, blob %s holds %d", r.where, r.size, sum, info.Size)
			}
		}
		if k.contents {
			if got, err := k.hashBlob(sum); err != nil {
				return "", err
			} else if got != sum {
				p.add("%s: blob %s holds bytes hashing to %s", rs[0].where, sum, got)
			}
		}
	}
	if err := p.err(); err != nil {
		return "", err
	}
	how := "size"
	if k.contents {
		how = "size and SHA-256"
	}
	return fmt.Sprintf("%d blobs referenced, all stored with their %s (%d bytes)", len(refs), how, stored), nil
}

func (k *checker) hashBlob(sum string) (string, error) {
	o, err := k.blobs.Open(k.ctx, sum)
	if err != nil {
		return "", err
	}
	defer o.Close()
	h := sha256.New()
	if _, err := io.Copy(h, o); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// aged sorts what a check found unaccounted for by age: older than the grace
// period it fails (or, with -repair, is removed); younger it may be work in flight.
type aged struct {
	what           string
	young, removed int
	old            problems
}

func (k *checker) judge(a *aged, name string, at time.Time, remove func() error) {
	if k.now.Sub(at) < k.grace {
		a.young++
		return
	}
	if k.repair {
		if err := remove(); err != nil {
			a.old.add("%s: removing it: %v", name, err)
			return
		}
		a.removed++
		return
	}
	a.old.add("%s (%s old)", name, k.now.Sub(at).Round(time.Second))
}

func (a *aged) result(total string) (string, error) {
	if err := a.old.err(); err != nil {
		return "", fmt.Errorf("%d %s older than the grace period: %w", a.old.n, a.what, err)
	}
	msg := total
	if a.young > 0 {
		msg += fmt.Sprintf("; %d %s younger than the grace period (work in flight, or left by a stop the next sweep takes)", a.young, a.what)
	}
	if a.removed > 0 {
		msg += fmt.Sprintf("; %d %s removed", a.removed, a.what)
	}
	return msg, nil
}

// unreferencedBlobs looks for stored blobs that no row names and no filing cites.
func (k *checker) unreferencedBlobs() (string, error) {
	lister, ok := k.blobs.(blob.Lister)
	if !ok {
		return "the blob store cannot list its blobs: not checked", nil
	}
	a := &aged{what: "unreferenced blobs"}
	n := 0
	err := lister.List(k.ctx, func(info blob.Info) error {
		n++
		if !k.cited[info.SHA256] {
			k.judge(a, "blob "+info.SHA256, info.Stored, func() error { return k.blobs.Delete(k.ctx, info.SHA256) })
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	return a.result(fmt.Sprintf("%d blobs stored", n))
}

// staging checks the delivery staging folder: it holds the staged bytes of open
// uploads (they resume from them) and nothing else.
func (k *checker) staging() (string, error) {
	dir := filepath.Join(k.c.dataDir, "uploads")
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return "no staging folder", nil
	}
	if err != nil {
		return "", err
	}
	a := &aged{what: "stray files"}
	open := map[string]bool{}
	staged := 0
	for _, e := range entries {
		name := e.Name()
		id := strings.TrimSuffix(name, ".state")
		if !strings.HasSuffix(name, ".tmp") {
			isOpen, seen := open[id]
			if !seen {
				var state string
				err := k.db.Read(k.ctx, func(tx *store.Tx) error {
					err := tx.QueryRow(`SELECT state FROM uploads WHERE id = $1`, id).Scan(&state)
					if errors.Is(err, sql.ErrNoRows) {
						return nil
					}
					return err
				})
				if err != nil {
					return "", err
				}
				isOpen = state == "open"
				open[id] = isOpen
			}
			if isOpen {
				staged++
				continue
			}
		}
		k.judgeFile(a, dir, e)
	}
	uploads := 0
	for _, o := range open {
		if o {
			uploads++
		}
	}
	return a.result(fmt.Sprintf("%d open uploads staged (resumable)", uploads))
}

func (k *checker) judgeFile(a *aged, dir string, e os.DirEntry) {
	info, err := e.Info()
	if err != nil {
		return // removed meanwhile
	}
	path := filepath.Join(dir, e.Name())
	k.judge(a, path, info.ModTime(), func() error { return os.RemoveAll(path) })
}

// spool checks the finance ingest spool: a batch's rows live there only while its
// request runs.
func (k *checker) spool() (string, error) {
	dir := filepath.Join(k.c.dataDir, "spool", "finance")
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return "no spool folder", nil
	}
	if err != nil {
		return "", err
	}
	a := &aged{what: "spooled files"}
	for _, e := range entries {
		k.judgeFile(a, dir, e)
	}
	return a.result(fmt.Sprintf("%d files", len(entries)))
}

// blobUploads checks the blob store's uploads in progress: a crash leaves one
// behind, which the store sweeps when a day old (blob.OpenFS, blob.OpenS3).
func (k *checker) blobUploads() (string, error) {
	lister, ok := k.blobs.(blob.Lister)
	if !ok {
		return "the blob store cannot list its uploads: not checked", nil
	}
	pending, err := lister.Pending(k.ctx)
	if err != nil {
		return "", err
	}
	a := &aged{what: "uploads"}
	for _, u := range pending {
		k.judge(a, u.Name, u.Began, func() error { return lister.SweepPending(k.ctx, k.now.Add(-k.grace)) })
	}
	return a.result(fmt.Sprintf("%d in progress or abandoned", len(pending)))
}
