package harvest

import (
	"context"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/catalog"
	"github.com/dataport/dataport/mirror"
	"github.com/dataport/dataport/store"
)

// workers write products concurrently: the store's group commit batches their
// transactions, so a large source is not one commit after another.
const workers = 8

type known struct {
	productID, hash, state string
}

type run struct {
	s        *Service
	src      Source
	actor    dataport.Actor
	progress Progress
	started  time.Time
	origin   string // the platform's jurisdiction

	mu      sync.Mutex
	rep     Report
	buckets map[string]bool
	mirrors map[string]bool
	done    int
}

type item struct {
	rec  Record
	hash string
	prev *known
}

func (r *run) problem(p Problem) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rep.Problems = append(r.rep.Problems, p)
	r.rep.Failed++
}

func (r *run) notice(rec Record, field, reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rep.Notices = append(r.rep.Notices, Problem{Ref: rec.Ref, ID: rec.ID, Field: field, Reason: reason})
}

func (r *run) tick(ref string) {
	r.mu.Lock()
	r.done++
	n := r.done
	r.mu.Unlock()
	if r.progress != nil {
		r.progress(n, ref)
	}
}

func (r *run) do(ctx context.Context) error {
	const op = "harvest.Run"
	r.started = time.Now()
	r.buckets, r.mirrors = map[string]bool{}, map[string]bool{}
	conn, err := r.s.connectors[r.src.Kind](r.src)
	if err != nil {
		return err
	}
	prev := map[string]*known{}
	err = r.s.db.Read(ctx, func(tx *store.Tx) error {
		sup, err := r.s.reg.Participant(tx, r.src.SupplierID)
		if err != nil {
			return err
		}
		r.origin = sup.Jurisdiction
		rows, err := tx.Query(`SELECT record_id, product_id, content_sha256, state FROM harvest_records WHERE source_id = $1`, r.src.ID)
		if err != nil {
			return dataport.Internal(op, err)
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			k := &known{}
			if err := rows.Scan(&id, &k.productID, &k.hash, &k.state); err != nil {
				return dataport.Internal(op, err)
			}
			prev[id] = k
		}
		return rows.Err()
	})
	if err != nil {
		return err
	}

	work := make(chan item)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for it := range work {
				r.sync(ctx, it)
				r.tick(it.rec.Ref)
			}
		}()
	}
	seen := map[string]bool{}
	readErr := conn.Read(ctx, func(rec Record) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		r.mu.Lock()
		r.rep.Records++
		r.mu.Unlock()
		if rec.ID == "" {
			r.problem(Problem{Ref: rec.Ref, Reason: "the record has no identifier"})
			return nil
		}
		if seen[rec.ID] {
			r.problem(Problem{Ref: rec.Ref, ID: rec.ID, Field: "id", Reason: "a second record with the same identifier: the first is kept"})
			return nil
		}
		seen[rec.ID] = true
		r.count(rec)
		h := contentHash(rec, r.src.Settings)
		p := prev[rec.ID]
		if p != nil && p.state == "active" && p.hash == h {
			r.mu.Lock()
			r.rep.Unchanged++
			r.mu.Unlock()
			r.tick(rec.Ref)
			return nil
		}
		select {
		case work <- item{rec: rec, hash: h, prev: p}:
		case <-ctx.Done():
			return ctx.Err()
		}
		return nil
	}, func(p Problem) {
		if p.ID != "" {
			seen[p.ID] = true // it is there, only unreadable: its product stays as it is
		} else {
			r.mu.Lock()
			r.rep.RemovalsSkipped = true
			r.mu.Unlock()
		}
		r.problem(p)
	})
	close(work)
	wg.Wait()
	if readErr != nil {
		return dataport.Errorf(op, dataport.KindUnavailable, "the source could not be read: %v", readErr)
	}
	if r.rep.RemovalsSkipped {
		return nil
	}
	for id, k := range prev {
		if k.state != "active" || seen[id] {
			continue
		}
		r.remove(ctx, id, k)
	}
	return nil
}

// count adds a record's resources and S3 buckets to the report.
func (r *run) count(rec Record) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rep.Resources += len(rec.Distributions)
	for _, d := range rec.Distributions {
		if d.S3 != nil && d.S3.Bucket != "" && !r.buckets[d.S3.Bucket] {
			r.buckets[d.S3.Bucket] = true
			r.rep.S3Buckets++
		}
	}
}

// sync makes a record's product what the record says: created, or revised.
func (r *run) sync(ctx context.Context, it item) {
	rec := it.rec
	d := r.details(ctx, rec, it.hash)
	as := r.src.actor()
	var p catalog.Product
	var err error
	added := it.prev == nil || it.prev.state != "active"
	if added {
		p, err = r.s.cat.Create(ctx, as, catalog.NewProduct{SupplierID: r.src.SupplierID, Details: d})
	} else {
		p, err = r.s.cat.Revise(ctx, as, it.prev.productID, d)
	}
	if err != nil {
		r.problem(Problem{Ref: rec.Ref, ID: rec.ID, Field: fieldOf(err), Reason: reasonOf(err)})
		return
	}
	// The mapping is derived from the product's own filing, which carries the
	// source, the record and its hash in its details.
	err = r.s.db.WriteDerived(ctx, func(tx *store.Tx) error {
		now := store.FormatTime(tx.Now())
		if _, err := tx.Exec(`DELETE FROM harvest_records WHERE source_id = $1 AND record_id = $2`, r.src.ID, rec.ID); err != nil {
			return err
		}
		_, err := tx.Exec(`INSERT INTO harvest_records (source_id, record_id, product_id, content_sha256, state, updated_at) VALUES ($1, $2, $3, $4, 'active', $5)`,
			r.src.ID, rec.ID, p.ID, it.hash, now)
		return err
	})
	if err != nil {
		r.problem(Problem{Ref: rec.Ref, ID: rec.ID, Reason: dataport.MessageOf(err)})
		return
	}
	r.mu.Lock()
	if added {
		r.rep.Added++
	} else {
		r.rep.Changed++
	}
	r.mu.Unlock()
	r.review(ctx, rec, p)
}

// review submits a product for review and, when the source's criteria allow,
// lists it at once; otherwise it waits for the operator.
func (r *run) review(ctx context.Context, rec Record, p catalog.Product) {
	as := r.src.actor()
	if _, err := r.s.cat.Submit(ctx, as, p.ID); err != nil {
		r.notice(rec, fieldOf(err), "kept as a draft: "+reasonOf(err))
		return
	}
	if why := r.autoList(rec); why != "" {
		r.mu.Lock()
		r.rep.Queued++
		r.mu.Unlock()
		if why != "off" {
			r.notice(rec, "license", "queued for review: "+why)
		}
		return
	}
	if _, err := r.s.cat.StartReview(ctx, dataport.System, p.ID); err == nil {
		_, err = r.s.cat.Approve(ctx, dataport.System, p.ID)
		if err == nil {
			r.mu.Lock()
			r.rep.Listed++
			r.mu.Unlock()
			return
		}
		r.notice(rec, fieldOf(err), "queued for review: "+reasonOf(err))
	}
	r.mu.Lock()
	r.rep.Queued++
	r.mu.Unlock()
}

// autoList says why a record's product is not listed at once ("" when it is;
// "off" when the source lists nothing by itself).
func (r *run) autoList(rec Record) string {
	a := r.src.Settings.AutoList
	if !a.Enabled {
		return "off"
	}
	if a.OpenLicence && !OpenLicence(rec.License) {
		return "the licence is not one the exchange recognises as open"
	}
	if len(a.Grades) > 0 && !contains(a.Grades, r.src.Settings.Grade) {
		return "the source's grade is not among the auto-listing grades"
	}
	return ""
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// remove delists a record's product: the record is gone from the source. It is
// never deleted: deals and filings keep referring to it.
func (r *run) remove(ctx context.Context, id string, k *known) {
	_, err := r.s.cat.Delist(ctx, r.src.actor(), k.productID)
	if err != nil && dataport.KindOf(err) != dataport.KindConflict {
		r.problem(Problem{ID: id, Reason: "could not delist " + k.productID + ": " + dataport.MessageOf(err)})
		return
	}
	r.s.db.WriteDerived(ctx, func(tx *store.Tx) error {
		_, err := tx.Exec(`UPDATE harvest_records SET state = 'removed', updated_at = $3 WHERE source_id = $1 AND record_id = $2`,
			r.src.ID, id, store.FormatTime(tx.Now()))
		return err
	})
	r.mu.Lock()
	r.rep.Removed++
	r.mu.Unlock()
}

// mirrorBucket registers an S3 resource's bucket as a mirror upstream (once per
// run) and returns the mirror's bucket name, or "" when it is not mirrored.
func (r *run) mirrorBucket(ctx context.Context, s3 *S3Resource) string {
	if r.s.mirror == nil || s3 == nil || s3.Bucket == "" || s3.Region == "" || s3.RequesterPays || s3.AccountRequired {
		return "" // requester-pays and account-only buckets cannot be read anonymously
	}
	name := s3.Bucket
	if mirror.ValidName(name) != nil || strings.HasPrefix(name, "deal-") {
		return ""
	}
	r.mu.Lock()
	mirrored, tried := r.mirrors[name]
	r.mu.Unlock()
	if tried {
		if mirrored {
			return name
		}
		return ""
	}
	_, err := r.s.mirror.Register(ctx, dataport.System, mirror.NewUpstream{Name: name, ARN: "arn:aws:s3:::" + s3.Bucket, Region: s3.Region})
	mirrored = err == nil || dataport.KindOf(err) == dataport.KindConflict // a conflict: mirrored already
	r.mu.Lock()
	r.mirrors[name] = mirrored
	if err == nil {
		r.rep.Upstreams++
	}
	r.mu.Unlock()
	if !mirrored {
		return ""
	}
	return name
}

func cut(s string, n int) string {
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return strings.TrimSpace(string(r[:n-1])) + "…"
}

func cutBilingual(b dataport.Bilingual, n int) dataport.Bilingual {
	return dataport.Bilingual{Zh: cut(b.Zh, n), En: cut(b.En, n)}
}

// details maps a record to a product's details under the source's settings.
func (r *run) details(ctx context.Context, rec Record, hash string) catalog.Details {
	st := r.src.Settings
	d := catalog.Details{
		Type: "dataset", Title: cutBilingual(rec.Title, 300), Summary: cutBilingual(rec.Summary, 300),
		Description: cutBilingual(rec.Description, 2000), Category: Category(rec, st.Category),
		UpdateFrequency: Frequency(rec.UpdateFrequency), DeliveryModes: []string{"file"}, Scenarios: st.Scenarios,
		Source: st.Source, Grade: st.Grade, Sublevel: st.Sublevel, OriginJurisdiction: r.origin,
		Rights:      catalog.Rights{ProcessingUse: true},
		PricePlans:  []catalog.PricePlan{{Kind: "one_off", Price: st.Price}},
		UsagePolicy: cut("Licence: "+rec.License, 10000),
		Attachments: []catalog.Attachment{{Kind: "compliance_report", SHA256: st.ComplianceReport}},
		Harvested: &catalog.Harvested{SourceID: r.src.ID, RecordID: cut(rec.ID, 1000), Ref: cut(rec.Ref, 2000), ContentSHA256: hash,
			Publisher: cut(rec.Publisher, 500), Homepage: cut(rec.Homepage, 2000), License: cut(rec.License, 5000)},
	}
	if d.Summary.Zh == "" && d.Summary.En == "" {
		d.Summary = cutBilingual(rec.Description, 300)
	}
	if d.Summary.Zh == "" && d.Summary.En == "" { // the source says no more than the title
		d.Summary = d.Title
	}
	if rec.Deprecated {
		d.Restrictions = "The platform marks this dataset deprecated."
	}
	for _, k := range rec.Keywords {
		if len(d.Tags) == 30 {
			break
		}
		if k = cut(k, 50); k != "" {
			d.Tags = append(d.Tags, k)
		}
	}
	for _, dist := range rec.Distributions {
		if len(d.Harvested.Distributions) == 200 {
			break
		}
		out := catalog.Distribution{Title: cut(dist.Title, 500), URL: cut(dist.URL, 2000), Format: cut(dist.Format, 100)}
		if dist.S3 != nil {
			if out.URL == "" {
				out.URL = cut(dist.S3.ARN, 2000)
			}
			if b := r.mirrorBucket(ctx, dist.S3); b != "" {
				out.MirrorBucket, out.MirrorPrefix = b, cut(dist.S3.Prefix, 1024)
			}
		}
		d.Harvested.Distributions = append(d.Harvested.Distributions, out)
	}
	return d
}
