package ledger

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/store"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// The log: every filing is a leaf of an RFC 6962 Merkle tree, in sequence order
// (leaf n is filing n+1), published as a C2SP tlog-tiles log with C2SP
// tlog-checkpoint checkpoints signed as C2SP signed notes with the exchange's Ed25519
// log key.
//
// Filing stays synchronous and cheap: File writes only the filing, in the caller's
// transaction. An integrator (Log.Run) then adds new filings to the tree
// asynchronously — woken by every commit, so the delay is a batch, not a poll
// interval — stores the new hashes and signs a checkpoint, all in one transaction.
// Before signing it checks that the new tree contains the last signed one, so the
// log never signs two inconsistent views, across restarts too.

// TileHeight is C2SP tlog-tiles' fixed tile height: 2^8 = 256 hashes a tile.
const TileHeight = 8

// integrateBatch bounds how many filings one integration step takes.
const integrateBatch = 4096

// Checkpoint is a signed tree head.
type Checkpoint struct {
	Origin string
	Size   int64
	Root   tlog.Hash
	Note   []byte // the signed note, as served at /log/checkpoint
}

// Log is the exchange's Merkle log over its filings.
type Log struct {
	db     *store.DB
	signer note.Signer
	vkey   string
	log    *slog.Logger

	kick chan struct{}

	mu        sync.Mutex
	latest    Checkpoint
	witnesses []Witness
	covered   chan struct{} // closed when a new checkpoint is signed
	hashes    hashCache
	tiles     tileCache
}

// GenerateKey makes a new Ed25519 log key named by the log's origin, returning the
// signer key (secret) and the verifier key (public), in golang.org/x/mod/sumdb/note
// form. The origin SHOULD be the log's URL prefix without the scheme (C2SP tlog-tiles).
func GenerateKey(origin string) (skey, vkey string, err error) {
	if origin == "" || strings.ContainsAny(origin, " \t\n+") {
		return "", "", fmt.Errorf("log origin %q: a non-empty name without spaces or +", origin)
	}
	return note.GenerateKey(rand.Reader, origin)
}

// VerifierKey returns the verifier key of a signer key.
func VerifierKey(skey string) (string, error) {
	// note keeps the verifier key inside the signer key: PRIVATE+KEY+name+hash+key.
	parts := strings.SplitN(strings.TrimSpace(skey), "+", 5)
	if len(parts) != 5 || parts[0] != "PRIVATE" || parts[1] != "KEY" {
		return "", errors.New("not a note signer key (PRIVATE+KEY+name+hash+key)")
	}
	priv, err := base64.StdEncoding.DecodeString(parts[4])
	if err != nil || len(priv) != 33 || priv[0] != 1 {
		return "", errors.New("not an Ed25519 note signer key")
	}
	return note.NewEd25519VerifierKey(parts[2], ed25519Public(priv[1:]))
}

// OpenLog opens the log over db, signing with skey. It refuses a key whose origin
// differs from the checkpoints already signed.
func OpenLog(ctx context.Context, db *store.DB, skey string, logger *slog.Logger) (*Log, error) {
	const op = "ledger.OpenLog"
	signer, err := note.NewSigner(strings.TrimSpace(skey))
	if err != nil {
		return nil, dataport.Errorf(op, dataport.KindInvalid, "log key: %v", err)
	}
	vkey, err := VerifierKey(skey)
	if err != nil {
		return nil, dataport.Errorf(op, dataport.KindInvalid, "log key: %v", err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	l := &Log{db: db, signer: signer, vkey: vkey, log: logger, kick: make(chan struct{}, 1), covered: make(chan struct{})}
	l.hashes.init(1 << 20)
	l.tiles.max = 64 << 20
	err = db.Read(ctx, func(tx *store.Tx) error {
		cp, ok, err := latestCheckpoint(tx)
		if err != nil || !ok {
			return err
		}
		if cp.Origin != signer.Name() {
			return dataport.Errorf(op, dataport.KindInvalid,
				"the log key names origin %q, but the log's checkpoints are for %q: use the log's own key", signer.Name(), cp.Origin)
		}
		l.latest = cp
		return nil
	})
	if err != nil {
		return nil, dataport.Wrap(op, err)
	}
	db.OnCommit(l.Kick)
	return l, nil
}

// Origin is the log's origin line.
func (l *Log) Origin() string { return l.signer.Name() }

// VerifierKey is the log's public key, for `dataport verify --key`.
func (l *Log) VerifierKey() string { return l.vkey }

// Kick wakes the integrator; it never blocks.
func (l *Log) Kick() {
	select {
	case l.kick <- struct{}{}:
	default:
	}
}

// IntegratorRole is the role (store.DB.Lead) of the one process that integrates
// the log when several replicas share a database.
const IntegratorRole = "log-integrator"

// Run keeps the log current until ctx ends. Of the processes on one database, the
// one that leads IntegratorRole integrates new filings — at every kick, and every
// poll interval for filings committed by the others — so the tree grows in one
// total order under one signer; every process, leader or not, follows the signed
// checkpoints at each poll, so Latest and WaitCovered answer alike on every
// replica. When the leader dies, another replica takes the role at its next try
// (store.LeadRetry) and carries on from the last signed checkpoint.
func (l *Log) Run(ctx context.Context, poll time.Duration) {
	var wg sync.WaitGroup
	wg.Go(func() {
		l.db.Lead(ctx, IntegratorRole, func(ctx context.Context) {
			l.log.Info("integrating the log", "role", IntegratorRole)
			l.integrate(ctx, poll)
			l.log.Info("stopped integrating the log", "role", IntegratorRole)
		})
	})
	l.follow(ctx, poll)
	wg.Wait()
}

// integrate runs the integrator while this process leads.
func (l *Log) integrate(ctx context.Context, poll time.Duration) {
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		for {
			n, err := l.Integrate(ctx)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				l.log.Error("log integration failed", "err", err)
				break
			}
			if n < integrateBatch {
				break
			}
		}
		for waiting := true; waiting; {
			select {
			case <-ctx.Done():
				return
			case <-l.kick: // a commit here: it may have filed
			case <-t.C: // another replica's filings
			}
			// Look before taking the tree's row lock, which is a write: every commit
			// kicks the integrator, its own included, and an idle exchange must not
			// integrate nothing over and over. (An error here — the database away —
			// waits for the next tick.)
			pending, err := l.pending(ctx)
			waiting = err != nil || !pending
		}
	}
}

// pending tells whether filings wait to be integrated.
func (l *Log) pending(ctx context.Context) (bool, error) {
	var yes bool
	err := l.db.Read(ctx, func(tx *store.Tx) error {
		var filed, size int64
		if err := tx.QueryRow(`SELECT last_seq FROM filing_sequence WHERE id = 1`).Scan(&filed); err != nil {
			return err
		}
		if err := tx.QueryRow(`SELECT size FROM log_tree WHERE id = 1`).Scan(&size); err != nil {
			return err
		}
		yes = filed > size
		return nil
	})
	return yes, err
}

// follow reads the latest signed checkpoint at every poll, to learn of those
// another replica signed.
func (l *Log) follow(ctx context.Context, poll time.Duration) {
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := l.refresh(ctx); err != nil && ctx.Err() == nil {
			l.log.Warn("reading the log's latest checkpoint", "err", err)
		}
	}
}

// refresh reads the latest signed checkpoint when the tree has grown past it.
func (l *Log) refresh(ctx context.Context) error {
	l.mu.Lock()
	known := l.latest.Size
	l.mu.Unlock()
	var cp Checkpoint
	var ok bool
	err := l.db.Read(ctx, func(tx *store.Tx) error {
		var size int64
		if err := tx.QueryRow(`SELECT size FROM log_tree WHERE id = 1`).Scan(&size); err != nil || size <= known {
			return err
		}
		var err error
		cp, ok, err = latestCheckpoint(tx)
		return err
	})
	if err == nil && ok {
		l.publish(cp)
	}
	return err
}

// publish makes cp the latest checkpoint when it is newer, waking WaitCovered.
func (l *Log) publish(cp Checkpoint) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if cp.Size > l.latest.Size {
		l.latest = cp
		close(l.covered)
		l.covered = make(chan struct{})
	}
}

// Filed returns how many filings there are, integrated or not (0 on error).
func (l *Log) Filed(ctx context.Context) int64 {
	var n int64
	l.db.Read(ctx, func(tx *store.Tx) error {
		var err error
		n, err = Size(tx)
		return err
	})
	return n
}

// Latest returns the latest signed checkpoint; ok is false before the first.
func (l *Log) Latest() (Checkpoint, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.latest, l.latest.Size > 0
}

// WaitCovered waits until a signed checkpoint covers filing seq and returns it.
func (l *Log) WaitCovered(ctx context.Context, seq int64) (Checkpoint, error) {
	for {
		l.mu.Lock()
		cp, ch := l.latest, l.covered
		l.mu.Unlock()
		if cp.Size >= seq {
			return cp, nil
		}
		l.Kick()
		select {
		case <-ch:
		case <-ctx.Done():
			return Checkpoint{}, dataport.Errorf("ledger.WaitCovered", dataport.KindUnavailable,
				"filing %d is not yet covered by a signed checkpoint", seq)
		}
	}
}

// Integrate adds the filings not yet in the tree (up to a batch) and signs a
// checkpoint over the new tree. It returns how many leaves it added.
func (l *Log) Integrate(ctx context.Context) (int, error) {
	const op = "ledger.Integrate"
	var added int
	var cp Checkpoint
	var fresh map[int64]tlog.Hash
	err := l.db.WriteDerived(ctx, func(tx *store.Tx) error {
		var size int64
		var rootHex string
		// Updating the row first takes its lock: one integrator at a time, on either
		// engine, even with several processes on one database.
		if err := tx.QueryRow(`UPDATE log_tree SET size = size WHERE id = 1 RETURNING size, root`).Scan(&size, &rootHex); err != nil {
			return err
		}
		rows, err := tx.Query(`SELECT seq, entry FROM filings WHERE seq > $1 ORDER BY seq LIMIT $2`, size, integrateBatch)
		if err != nil {
			return err
		}
		// Read the batch whole before hashing: hashing reads stored hashes the
		// cache lacks (a replica that has just taken the role over has none), and
		// on PostgreSQL a connection runs one query at a time.
		type leaf struct {
			seq   int64
			entry string
		}
		var leaves []leaf
		for rows.Next() {
			var f leaf
			if err := rows.Scan(&f.seq, &f.entry); err != nil {
				rows.Close()
				return err
			}
			leaves = append(leaves, f)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		r := &txHashReader{tx: tx, cache: &l.hashes, fresh: map[int64]tlog.Hash{}}
		fresh = r.fresh
		n := size
		for _, f := range leaves {
			if f.seq != n+1 {
				return fmt.Errorf("filing %d follows leaf %d: the filings have a gap", f.seq, n)
			}
			hs, err := tlog.StoredHashes(n, []byte(f.entry), r)
			if err != nil {
				return err
			}
			first := tlog.StoredHashIndex(0, n)
			for i, h := range hs {
				r.fresh[first+int64(i)] = h
			}
			n++
		}
		added = int(n - size)
		if added == 0 {
			return nil
		}
		if err := insertHashes(tx, r.fresh); err != nil {
			return err
		}
		root, err := tlog.TreeHash(n, r)
		if err != nil {
			return err
		}
		// Never sign a view inconsistent with one signed before: the old signed
		// root must be the root of the first old-size leaves of the new tree.
		last, ok, err := latestCheckpoint(tx)
		if err != nil {
			return err
		}
		if ok {
			old, err := tlog.TreeHash(last.Size, r)
			if err != nil {
				return err
			}
			if old != last.Root {
				return fmt.Errorf("refusing to sign: the tree of size %d has root %x, but the signed checkpoint says %x", last.Size, old[:], last.Root[:])
			}
		}
		cp = Checkpoint{Origin: l.Origin(), Size: n, Root: root}
		if cp.Note, err = note.Sign(&note.Note{Text: cp.body()}, l.signer); err != nil {
			return err
		}
		if _, err := tx.Exec(`INSERT INTO log_checkpoints (size, root, note, signed_at) VALUES ($1, $2, $3, $4)`,
			n, hex.EncodeToString(root[:]), string(cp.Note), store.FormatTime(tx.Now())); err != nil {
			return err
		}
		_, err = tx.Exec(`UPDATE log_tree SET size = $1, root = $2 WHERE id = 1`, n, hex.EncodeToString(root[:]))
		return err
	})
	if err != nil {
		return 0, dataport.Wrap(op, err)
	}
	if added > 0 {
		l.hashes.addAll(fresh) // only once committed: a rolled-back hash is no hash
		l.publish(cp)
	}
	return added, nil
}

// body renders the checkpoint per C2SP tlog-checkpoint: origin, size, root.
func (c Checkpoint) body() string {
	return fmt.Sprintf("%s\n%d\n%s\n", c.Origin, c.Size, base64.StdEncoding.EncodeToString(c.Root[:]))
}

// ParseCheckpoint parses a checkpoint body (the signed note's text).
func ParseCheckpoint(text string) (Checkpoint, error) {
	lines := strings.SplitAfter(text, "\n")
	if len(lines) < 3 || !strings.HasSuffix(text, "\n") {
		return Checkpoint{}, errors.New("checkpoint: want origin, size and root lines")
	}
	origin := strings.TrimSuffix(lines[0], "\n")
	sizeLine := strings.TrimSuffix(lines[1], "\n")
	rootLine := strings.TrimSuffix(lines[2], "\n")
	if origin == "" {
		return Checkpoint{}, errors.New("checkpoint: empty origin line")
	}
	size, err := strconv.ParseInt(sizeLine, 10, 64)
	if err != nil || size < 0 || strconv.FormatInt(size, 10) != sizeLine {
		return Checkpoint{}, fmt.Errorf("checkpoint: size line %q is not a decimal without leading zeros", sizeLine)
	}
	root, err := base64.StdEncoding.DecodeString(rootLine)
	if err != nil || len(root) != HashSize {
		return Checkpoint{}, fmt.Errorf("checkpoint: root line %q is not a base64 SHA-256 hash", rootLine)
	}
	for _, ext := range lines[3:] {
		if ext == "\n" {
			return Checkpoint{}, errors.New("checkpoint: empty extension line")
		}
	}
	cp := Checkpoint{Origin: origin, Size: size}
	copy(cp.Root[:], root)
	return cp, nil
}

func latestCheckpoint(tx *store.Tx) (Checkpoint, bool, error) {
	var size int64
	var text string
	err := tx.QueryRow(`SELECT size, note FROM log_checkpoints ORDER BY size DESC LIMIT 1`).Scan(&size, &text)
	if errors.Is(err, errNoRows) {
		return Checkpoint{}, false, nil
	}
	if err != nil {
		return Checkpoint{}, false, err
	}
	body, _, _ := strings.Cut(text, "\n\n")
	cp, err := ParseCheckpoint(body + "\n")
	if err != nil {
		return Checkpoint{}, false, err
	}
	cp.Note = []byte(text)
	return cp, true, nil
}

func insertHashes(tx *store.Tx, hs map[int64]tlog.Hash) error {
	const per = 200 // rows per statement
	ids := make([]int64, 0, len(hs))
	for id := range hs {
		ids = append(ids, id)
	}
	for start := 0; start < len(ids); start += per {
		end := min(start+per, len(ids))
		var q strings.Builder
		q.WriteString(`INSERT INTO log_hashes (id, hash) VALUES `)
		args := make([]any, 0, 2*(end-start))
		for i, id := range ids[start:end] {
			if i > 0 {
				q.WriteString(", ")
			}
			fmt.Fprintf(&q, "($%d, $%d)", 2*i+1, 2*i+2)
			h := hs[id]
			args = append(args, id, hex.EncodeToString(h[:]))
		}
		if _, err := tx.Exec(q.String(), args...); err != nil {
			return err
		}
	}
	return nil
}

// txHashReader reads stored hashes: first those computed in this transaction, then
// the process cache, then the database.
type txHashReader struct {
	tx    *store.Tx
	cache *hashCache
	fresh map[int64]tlog.Hash
}

func (r *txHashReader) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	var missing []int64
	at := map[int64][]int{}
	for i, id := range indexes {
		if h, ok := r.fresh[id]; ok {
			out[i] = h
		} else if h, ok := r.cache.get(id); ok {
			out[i] = h
		} else {
			if _, dup := at[id]; !dup {
				missing = append(missing, id)
			}
			at[id] = append(at[id], i)
		}
	}
	for start := 0; start < len(missing); start += 500 {
		end := min(start+500, len(missing))
		var q strings.Builder
		q.WriteString(`SELECT id, hash FROM log_hashes WHERE id IN (`)
		args := make([]any, 0, end-start)
		for i, id := range missing[start:end] {
			if i > 0 {
				q.WriteString(", ")
			}
			fmt.Fprintf(&q, "$%d", i+1)
			args = append(args, id)
		}
		q.WriteString(")")
		rows, err := r.tx.Query(q.String(), args...)
		if err != nil {
			return nil, err
		}
		found := 0
		for rows.Next() {
			var id int64
			var hx string
			if err := rows.Scan(&id, &hx); err != nil {
				rows.Close()
				return nil, err
			}
			var h tlog.Hash
			if b, err := hex.DecodeString(hx); err != nil || len(b) != HashSize {
				rows.Close()
				return nil, fmt.Errorf("stored hash %d is corrupt", id)
			} else {
				copy(h[:], b)
			}
			for _, i := range at[id] {
				out[i] = h
			}
			r.cache.add(id, h)
			found++
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
		if found != end-start {
			return nil, fmt.Errorf("the log is missing stored hashes among %v", missing[start:end])
		}
	}
	return out, nil
}

// hashCache keeps stored hashes in memory. They never change once committed, so the
// cache needs no invalidation, across processes too; it is bounded by dropping
// everything when full, which is rare and only costs re-reads.
type hashCache struct {
	mu  sync.RWMutex
	m   map[int64]tlog.Hash
	max int
}

func (c *hashCache) init(max int) { c.m, c.max = map[int64]tlog.Hash{}, max }

func (c *hashCache) get(id int64) (tlog.Hash, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	h, ok := c.m[id]
	return h, ok
}

func (c *hashCache) add(id int64, h tlog.Hash) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		c.m = map[int64]tlog.Hash{}
	}
	c.m[id] = h
}

func (c *hashCache) addAll(hs map[int64]tlog.Hash) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m)+len(hs) > c.max {
		c.m = map[int64]tlog.Hash{}
	}
	for id, h := range hs {
		c.m[id] = h
	}
}

var errNoRows = sql.ErrNoRows

func ed25519Public(seed []byte) ed25519.PublicKey {
	return ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
}

// SignStatement signs a statement of the exchange (a registration certificate, and
// later transaction certificates) with the log's key, as a signed note whose first
// line names the kind of statement and whose second is the statement's canonical
// JSON. The note form lets anyone check it with the log's verifier key and the
// standard note tools; the first line keeps it from ever reading as a checkpoint.
func (l *Log) SignStatement(kind string, canonical []byte) ([]byte, error) {
	if kind == "" || strings.ContainsAny(kind, "\n") || bytes.ContainsAny(canonical, "\n") {
		return nil, dataport.Internal("ledger.SignStatement", errors.New("a statement is one line of kind and one of canonical JSON"))
	}
	return note.Sign(&note.Note{Text: kind + "\n" + string(canonical) + "\n"}, l.signer)
}
