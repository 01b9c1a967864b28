package harvest

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/catalog"
	"github.com/dataport/dataport/ledger"
	"github.com/dataport/dataport/mirror"
	"github.com/dataport/dataport/registry"
	"github.com/dataport/dataport/store"
)

// Kinds of source, each read by its connector.
const (
	KindAWSOpenData = "aws_odr"
	KindCKAN        = "ckan"
	KindDCAT        = "dcat"
	KindFeed        = "feed"
)

// Connectors make the connector of a source, by kind; the program wires them.
type Connectors map[string]func(Source) (Connector, error)

// Settings say how a source's records become products.
type Settings struct {
	// Category is the exchange category for records whose own themes map to none.
	Category string `json:"category" maxLength:"64"`
	// Scenarios are the permitted use scenarios declared for the source's
	// products (R20).
	Scenarios []string `json:"scenarios" maxItems:"50"`
	// ComplianceReport is the SHA-256 of the third-party compliance assessment of
	// the platform's catalog, uploaded by the source's agent or supplier (R20).
	ComplianceReport string `json:"compliance_report" pattern:"^[0-9a-f]{64}$"`
	// Source, Grade and Sublevel classify the data (R21, GB/T 43697-2024);
	// defaults enterprise, general, 1.
	Source   string `json:"source,omitempty" enum:"public,enterprise,personal"`
	Grade    string `json:"grade,omitempty" enum:"core,important,general"`
	Sublevel int    `json:"sublevel,omitempty" minimum:"0" maximum:"4"`
	// Price of each product; 0 (open data) by default.
	Price dataport.Money `json:"price,omitzero"`
	// AutoList lists a record's product without the operator's review when it
	// meets every criterion set.
	AutoList AutoList `json:"auto_list,omitzero"`
	// Options for the connector (e.g. a CKAN query, a feed's format).
	Options map[string]string `json:"options,omitempty"`
}

// AutoList are the criteria under which harvested products are listed at once.
type AutoList struct {
	Enabled     bool     `json:"enabled"`
	OpenLicence bool     `json:"open_licence,omitempty" doc:"only records under a recognised open licence"`
	NoPI        bool     `json:"no_pi,omitempty" doc:"only records without personal information"`
	Grades      []string `json:"grades,omitempty" doc:"only these grades, e.g. general"`
}

// Source is a platform the exchange harvests.
type Source struct {
	ID         string        `json:"id"`
	Name       string        `json:"name"`
	Kind       string        `json:"kind" enum:"aws_odr,ckan,dcat,feed"`
	Location   string        `json:"location" doc:"a folder (registry checkout, feed file) or a URL"`
	SupplierID string        `json:"supplier_id" doc:"the platform, as a participant"`
	AgentID    string        `json:"agent_id,omitempty" doc:"the domestic agent listing for a foreign platform (R22)"`
	Settings   Settings      `json:"settings"`
	Every      time.Duration `json:"every_seconds,omitempty" doc:"runs on this schedule; on demand only when 0"`
	NextRunAt  time.Time     `json:"next_run_at,omitzero"`
	Status     string        `json:"status"`
	CreatedAt  time.Time     `json:"created_at"`
}

// actor is who the harvest acts as in the catalog: the agent for a foreign
// platform, else the platform itself.
func (s Source) actor() dataport.Actor {
	if s.AgentID != "" {
		return dataport.Actor{ParticipantID: s.AgentID, KeyID: "harvest:" + s.ID, Roles: []dataport.Role{dataport.RoleAgent}}
	}
	return dataport.Actor{ParticipantID: s.SupplierID, KeyID: "harvest:" + s.ID, Roles: []dataport.Role{dataport.RoleSupplier}}
}

// Service is the harvest.
type Service struct {
	db         *store.DB
	reg        *registry.Service
	cat        *catalog.Service
	mirror     *mirror.Service
	connectors Connectors

	mu      sync.Mutex
	running map[string]bool // sources with a run in progress
}

// New makes the harvest; mirror may be nil (S3 resources are then not mirrored).
func New(db *store.DB, reg *registry.Service, cat *catalog.Service, m *mirror.Service, connectors Connectors) *Service {
	return &Service{db: db, reg: reg, cat: cat, mirror: m, connectors: connectors, running: map[string]bool{}}
}

// NewSource registers a platform.
type NewSource struct {
	Name         string   `json:"name" minLength:"1" maxLength:"200"`
	Kind         string   `json:"kind" enum:"aws_odr,ckan,dcat,feed"`
	Location     string   `json:"location" minLength:"1" maxLength:"2000"`
	SupplierID   string   `json:"supplier_id"`
	AgentID      string   `json:"agent_id,omitempty"`
	Settings     Settings `json:"settings"`
	EverySeconds int64    `json:"every_seconds,omitempty" minimum:"0" doc:"0: on demand only; at least 300 otherwise"`
}

// mayRegister checks that actor may register a harvest source: the operator, active.
func mayRegister(tx *store.Tx, op string, actor dataport.Actor) error {
	if err := registry.MayAct(tx, op, actor); err != nil {
		return err
	}
	if !actor.Has(dataport.RoleOperator) {
		return dataport.Errorf(op, dataport.KindForbidden, "the operator registers harvest sources")
	}
	return nil
}

// AddSource registers a source (the operator).
func (s *Service) AddSource(ctx context.Context, actor dataport.Actor, n NewSource) (Source, error) {
	const op = "harvest.AddSource"
	// Who asks comes first: making the connector below may reach the platform (a
	// DSP peer's connector is connected to, with the token the peer issued to the
	// exchange), which no one but the operator may have the exchange do. The
	// transaction checks again, for a suspension that lands meanwhile.
	if err := s.db.Read(ctx, func(tx *store.Tx) error { return mayRegister(tx, op, actor) }); err != nil {
		return Source{}, err
	}
	var p dataport.Problems
	if _, ok := s.connectors[n.Kind]; !ok {
		p.Add("kind", "aws_odr, ckan, dcat or feed")
	}
	if strings.TrimSpace(n.Name) == "" {
		p.Add("name", "a name for the source")
	}
	if n.EverySeconds != 0 && n.EverySeconds < 300 {
		p.Add("every_seconds", "0 (on demand) or at least 300")
	}
	if len(n.Settings.Scenarios) == 0 {
		p.Add("settings.scenarios", "R20: declare the permitted use scenarios of the platform's data")
	}
	if len(n.Settings.ComplianceReport) != 64 {
		p.Add("settings.compliance_report", "R20: the SHA-256 of the platform's uploaded compliance assessment")
	}
	if n.Settings.Category == "" {
		n.Settings.Category = "open-data"
	}
	if n.Settings.Source == "" {
		n.Settings.Source = "enterprise"
	}
	if n.Settings.Grade == "" {
		n.Settings.Grade, n.Settings.Sublevel = "general", 1
	}
	if n.Settings.Price.Currency == "" {
		n.Settings.Price.Currency = "CNY"
	}
	if err := p.Err(op); err != nil {
		return Source{}, err
	}
	src := Source{ID: dataport.NewID("src"), Name: strings.TrimSpace(n.Name), Kind: n.Kind, Location: n.Location, SupplierID: n.SupplierID,
		AgentID: n.AgentID, Settings: n.Settings, Every: time.Duration(n.EverySeconds) * time.Second, Status: "active"}
	if _, err := s.connectors[n.Kind](src); err != nil {
		return Source{}, dataport.Invalid(op, dataport.FieldProblem{Field: "location", Message: dataport.MessageOf(err)})
	}
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		if err := mayRegister(tx, op, actor); err != nil {
			return err
		}
		sup, err := s.reg.Participant(tx, n.SupplierID)
		if err != nil {
			return dataport.Invalid(op, dataport.FieldProblem{Field: "supplier_id", Message: "no such participant"})
		}
		if !sup.Has(dataport.RoleSupplier) {
			return dataport.Invalid(op, dataport.FieldProblem{Field: "supplier_id", Message: "the platform must hold the supplier role"})
		}
		if sup.Kind == registry.Foreign && n.AgentID == "" {
			return dataport.Invalid(op, dataport.FieldProblem{Field: "agent_id", Message: "R22: a foreign platform lists through a domestic agent"})
		}
		if n.AgentID != "" {
			if _, err := s.reg.Participant(tx, n.AgentID); err != nil {
				return dataport.Invalid(op, dataport.FieldProblem{Field: "agent_id", Message: "no such participant"})
			}
		}
		src.CreatedAt = tx.Now()
		src.NextRunAt = tx.Now()
		settings, _ := json.Marshal(src.Settings)
		now := store.FormatTime(src.CreatedAt)
		if _, err := tx.Exec(`INSERT INTO harvest_sources (id, name, kind, location, supplier_id, agent_id, settings, every_seconds, next_run_at, status, created_by, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'active', $10, $9, $9)`, src.ID, src.Name, src.Kind, src.Location, src.SupplierID, src.AgentID,
			string(settings), n.EverySeconds, now, actor.ParticipantID); err != nil {
			return dataport.Internal(op, err)
		}
		_, err = ledger.File(tx, actor, ledger.Change{Type: "harvest.source_added", Subjects: []string{src.ID, src.SupplierID}, Payload: src})
		return err
	})
	return src, err
}

// Sources lists the active sources (the operator and regulators).
func (s *Service) Sources(ctx context.Context, actor dataport.Actor) ([]Source, error) {
	const op = "harvest.Sources"
	if !actor.Has(dataport.RoleOperator, dataport.RoleRegulator) {
		return nil, dataport.Errorf(op, dataport.KindForbidden, "the operator manages harvest sources")
	}
	out := []Source{}
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		ids, err := tx.Strings(`SELECT id FROM harvest_sources WHERE status = 'active' ORDER BY created_at, id`)
		if err != nil {
			return dataport.Internal(op, err)
		}
		for _, id := range ids {
			src, err := source(tx, op, id)
			if err != nil {
				return err
			}
			out = append(out, src)
		}
		return nil
	})
	return out, err
}

// GetSource returns one source.
func (s *Service) GetSource(ctx context.Context, actor dataport.Actor, id string) (Source, error) {
	const op = "harvest.GetSource"
	if !actor.Has(dataport.RoleOperator, dataport.RoleRegulator) {
		return Source{}, dataport.Errorf(op, dataport.KindForbidden, "the operator manages harvest sources")
	}
	var src Source
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		var err error
		src, err = source(tx, op, id)
		return err
	})
	return src, err
}

func source(tx *store.Tx, op, id string) (Source, error) {
	var src Source
	var settings, next, created string
	var every int64
	err := tx.QueryRow(`SELECT id, name, kind, location, supplier_id, agent_id, settings, every_seconds, next_run_at, status, created_at
		FROM harvest_sources WHERE id = $1`, id).Scan(&src.ID, &src.Name, &src.Kind, &src.Location, &src.SupplierID, &src.AgentID,
		&settings, &every, &next, &src.Status, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return Source{}, dataport.Errorf(op, dataport.KindNotFound, "no harvest source %s", id)
	}
	if err != nil {
		return Source{}, dataport.Internal(op, err)
	}
	json.Unmarshal([]byte(settings), &src.Settings)
	src.Every = time.Duration(every) * time.Second
	src.NextRunAt, _ = store.ParseTime(next)
	src.CreatedAt, _ = store.ParseTime(created)
	return src, nil
}

// contentHash is what change detection compares: the SHA-256 of the record's JSON
// with the source settings that shape its product. encoding/json writes struct
// fields in order and map keys sorted, so the same record always hashes the same;
// the hash is compared only with hashes made here, so it need not be canonical
// across implementations.
func contentHash(r Record, settings Settings) string {
	h := sha256.New()
	json.NewEncoder(h).Encode(struct {
		Record   Record   `json:"record"`
		Settings Settings `json:"settings"`
	}{r, settings})
	return hex.EncodeToString(h.Sum(nil))
}

// Report is a run's account: counts, each record that failed and why, notices,
// and how long it took.
type Report struct {
	RunID     string    `json:"run_id"`
	SourceID  string    `json:"source_id"`
	Status    string    `json:"status" enum:"succeeded,failed"`
	Error     string    `json:"error,omitempty" doc:"why the source could not be read, when the run failed"`
	StartedAt time.Time `json:"started_at"`
	Duration  float64   `json:"duration_seconds"`

	Records   int `json:"records" doc:"records read"`
	Added     int `json:"added"`
	Changed   int `json:"changed" doc:"records whose content changed: a new revision"`
	Unchanged int `json:"unchanged"`
	Removed   int `json:"removed" doc:"records gone from the source: delisted, never deleted"`
	Failed    int `json:"failed" doc:"records that could not be read or listed"`
	Listed    int `json:"listed" doc:"products listed at once under the auto-listing criteria"`
	Queued    int `json:"queued" doc:"products submitted for the operator's review"`

	Resources int `json:"resources" doc:"distributions of the records read"`
	S3Buckets int `json:"s3_buckets" doc:"distinct S3 buckets among them"`
	Upstreams int `json:"upstreams" doc:"mirror upstreams registered by this run"`

	Problems []Problem `json:"problems" doc:"records that failed, with the reason"`
	Notices  []Problem `json:"notices,omitempty" doc:"records harvested with a remark (e.g. an unrecognised licence: not auto-listed)"`
	// RemovalsSkipped is set when part of the source could not be read: what was
	// not seen may still exist, so nothing is delisted.
	RemovalsSkipped bool `json:"removals_skipped,omitempty"`
}

// Progress is called as records are handled.
type Progress func(done int, ref string)

var errBusy = errors.New("busy")

// Run harvests a source now: reads it, adds, revises and delists products, and
// files the run with its counts. Per-record failures are reported and skipped; a
// source that cannot be read at all fails the run, and nothing is delisted.
func (s *Service) Run(ctx context.Context, actor dataport.Actor, sourceID string, progress Progress) (Report, error) {
	const op = "harvest.Run"
	if !actor.Has(dataport.RoleOperator) {
		return Report{}, dataport.Errorf(op, dataport.KindForbidden, "the operator runs harvests")
	}
	src, err := s.GetSource(ctx, actor, sourceID)
	if err != nil {
		return Report{}, err
	}
	if src.Status != "active" {
		return Report{}, dataport.Errorf(op, dataport.KindNotFound, "no harvest source %s", sourceID)
	}
	s.mu.Lock()
	if s.running[sourceID] {
		s.mu.Unlock()
		return Report{}, dataport.Errorf(op, dataport.KindConflict, "source %s is being harvested now", sourceID)
	}
	s.running[sourceID] = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.running, sourceID)
		s.mu.Unlock()
	}()
	r := &run{s: s, src: src, actor: actor, progress: progress,
		rep: Report{RunID: dataport.NewID("hrun"), SourceID: src.ID, StartedAt: s.db.Clock().Now(), Problems: []Problem{}}}
	if err := r.do(ctx); err != nil {
		r.rep.Status, r.rep.Error = "failed", dataport.MessageOf(err)
	} else {
		r.rep.Status = "succeeded"
	}
	r.rep.Duration = time.Since(r.started).Seconds()
	if err := s.fileRun(ctx, actor, &r.rep); err != nil {
		return r.rep, err
	}
	return r.rep, nil
}

func (s *Service) fileRun(ctx context.Context, actor dataport.Actor, rep *Report) error {
	const op = "harvest.fileRun"
	return s.db.Write(ctx, func(tx *store.Tx) error {
		counts := map[string]any{"run_id": rep.RunID, "status": rep.Status, "records": rep.Records, "added": rep.Added, "changed": rep.Changed,
			"unchanged": rep.Unchanged, "removed": rep.Removed, "failed": rep.Failed, "listed": rep.Listed, "queued": rep.Queued,
			"resources": rep.Resources, "s3_buckets": rep.S3Buckets, "upstreams": rep.Upstreams, "removals_skipped": rep.RemovalsSkipped}
		if rep.Error != "" {
			counts["error"] = rep.Error
		}
		f, err := ledger.File(tx, actor, ledger.Change{Type: "harvest.run", Subjects: []string{rep.SourceID, rep.RunID}, Payload: counts})
		if err != nil {
			return err
		}
		body, _ := json.Marshal(rep)
		_, err = tx.Exec(`INSERT INTO harvest_runs (id, source_id, started_at, finished_at, status, report, filing_seq) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			rep.RunID, rep.SourceID, store.FormatTime(rep.StartedAt), store.FormatTime(tx.Now()), rep.Status, string(body), f.Seq)
		if err != nil {
			return dataport.Internal(op, err)
		}
		if _, err := tx.Exec(`UPDATE harvest_sources SET next_run_at = CASE WHEN every_seconds > 0 THEN $2 ELSE next_run_at END, updated_at = $3 WHERE id = $1`,
			rep.SourceID, store.FormatTime(tx.Now().Add(time.Duration(sourceEvery(tx, rep.SourceID))*time.Second)), store.FormatTime(tx.Now())); err != nil {
			return dataport.Internal(op, err)
		}
		return nil
	})
}

func sourceEvery(tx *store.Tx, id string) int64 {
	var n int64
	tx.QueryRow(`SELECT every_seconds FROM harvest_sources WHERE id = $1`, id).Scan(&n)
	return n
}

// Runs lists a source's runs, newest first (the operator and regulators).
func (s *Service) Runs(ctx context.Context, actor dataport.Actor, sourceID string, limit int) ([]Report, error) {
	const op = "harvest.Runs"
	if _, err := s.GetSource(ctx, actor, sourceID); err != nil {
		return nil, err
	}
	if limit <= 0 || limit > 100 {
		limit = 20
	}
	out := []Report{}
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		rows, err := tx.Query(`SELECT report FROM harvest_runs WHERE source_id = $1 ORDER BY started_at DESC, id DESC LIMIT $2`, sourceID, limit)
		if err != nil {
			return dataport.Internal(op, err)
		}
		defer rows.Close()
		for rows.Next() {
			var body string
			if err := rows.Scan(&body); err != nil {
				return dataport.Internal(op, err)
			}
			var rep Report
			json.Unmarshal([]byte(body), &rep)
			out = append(out, rep)
		}
		return dataport.Wrap(op, rows.Err())
	})
	return out, err
}

// RunDue runs every source whose schedule says so, as the exchange itself.
func (s *Service) RunDue(ctx context.Context) {
	var due []string
	s.db.Read(ctx, func(tx *store.Tx) error {
		due, _ = tx.Strings(`SELECT id FROM harvest_sources WHERE status = 'active' AND every_seconds > 0 AND next_run_at <= $1 ORDER BY next_run_at`,
			store.FormatTime(tx.Now()))
		return nil
	})
	for _, id := range due {
		if ctx.Err() != nil {
			return
		}
		s.Run(ctx, dataport.System, id, nil)
	}
}

// Schedule runs due sources every tick until ctx ends.
func (s *Service) Schedule(ctx context.Context, tick time.Duration) {
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.RunDue(ctx)
		}
	}
}

func fieldOf(err error) string {
	if fs := dataport.FieldsOf(err); len(fs) > 0 {
		return fs[0].Field
	}
	return ""
}

func reasonOf(err error) string {
	msg := dataport.MessageOf(err)
	if fs := dataport.FieldsOf(err); len(fs) > 0 {
		msg = fmt.Sprintf("%s: %s: %s", msg, fs[0].Field, fs[0].Message)
	}
	return msg
}
