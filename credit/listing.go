package credit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/catalog"
	"github.com/dataport/dataport/finance"
	"github.com/dataport/dataport/ledger"
	"github.com/dataport/dataport/registry"
	"github.com/dataport/dataport/store"
)

// DataKind is what of its own data a merchant lists on the exchange.
type DataKind string

const (
	// DataOrders is the merchant's attested order data: the batches and live
	// streams it sent, delivered byte for byte as they were attested.
	DataOrders DataKind = "orders"
	// DataCreditSummary is the merchant's latest credit decision: score, grade,
	// PD, line, reasons and the inputs they rest on.
	DataCreditSummary DataKind = "credit_summary"
)

// NewDataProduct is a merchant's request to list its own data on the exchange.
// The exchange writes the product's details from the data; the merchant gives
// its consent and purpose, and what only it can say: the use scenarios, the
// prices and its documents.
type NewDataProduct struct {
	Kind    DataKind `json:"kind" enum:"orders,credit_summary" doc:"orders: its attested order data; credit_summary: its latest credit decision"`
	Consent bool     `json:"consent" required:"false" doc:"must be true: the merchant's explicit consent to list this data on the exchange; it is filed with the draft"`
	Purpose string   `json:"purpose" required:"false" maxLength:"500" doc:"why the merchant lists its data; filed with its consent"`
	// Scenarios, PricePlans and Attachments go into the draft as they are; the
	// catalog checks them (R20 at submission: a scenario and the third-party
	// compliance assessment report).
	Scenarios   []string             `json:"scenarios,omitempty" maxItems:"50" doc:"permitted use scenarios (R20)"`
	PricePlans  []catalog.PricePlan  `json:"price_plans,omitempty" maxItems:"20"`
	Attachments []catalog.Attachment `json:"attachments,omitempty" maxItems:"20" doc:"documents the merchant uploaded (POST /api/v1/attachments), cited by SHA-256: the compliance assessment report is needed to submit"`
}

// requested are the fields of NewDataProduct that become details as they are:
// a problem the catalog finds in them is the merchant's to fix.
var requested = []string{"scenarios", "price_plans", "attachments"}

func (n *NewDataProduct) validate(op string) error {
	var p dataport.Problems
	if n.Kind != DataOrders && n.Kind != DataCreditSummary {
		p.Add("kind", "orders (its attested order data) or credit_summary (its latest credit decision)")
	}
	if !n.Consent {
		p.Add("consent", "listing the merchant's data needs its explicit consent: send consent: true")
	}
	n.Purpose = strings.TrimSpace(n.Purpose)
	if n.Purpose == "" || utf8.RuneCountInString(n.Purpose) > 500 || !utf8.ValidString(n.Purpose) ||
		strings.IndexFunc(n.Purpose, unicode.IsControl) >= 0 {
		p.Add("purpose", "say why the data is listed: 1 to 500 characters, no control characters; it is filed with the consent")
	}
	return p.Err(op)
}

// Catalog is what credit needs of the catalog to list a merchant's data:
// catalog.Service is one. Create checks the supplier's side itself and files
// product.created.
type Catalog interface {
	Create(ctx context.Context, actor dataport.Actor, n catalog.NewProduct) (catalog.Product, error)
}

var _ Catalog = (*catalog.Service)(nil)

// AttestedData is what credit reads of a merchant's order data to describe it:
// finance.Service is one. Both check the caller, and the merchant acting as
// itself may read them.
type AttestedData interface {
	Shops(ctx context.Context, actor dataport.Actor, merchantID string) ([]finance.Shop, error)
	Batches(ctx context.Context, actor dataport.Actor, merchantID, before string, limit int) ([]finance.Batch, error)
}

var _ AttestedData = (*finance.Service)(nil)

// ListThrough lets merchants list their data (ListData): cat creates the
// drafts, data tells what the merchant attested. Call it before serving: it is
// not safe to call concurrently with ListData.
func (s *Service) ListThrough(cat Catalog, data AttestedData) {
	s.catalog, s.attested = cat, data
}

// The most attested batches a draft reads (pages of batchPage), and the most
// it cites one by one in its sample.
const (
	batchPage     = 1000
	maxBatchPages = 50
	maxCited      = 60
)

// ListData makes a draft data product of the merchant's own data, in the
// catalog, with the merchant as its supplier: the merchant itself, acting in its
// merchant and supplier roles. The details are written from the data (package
// documentation, "Listing a merchant's data") and cite the filings that attest
// it; the merchant's consent and purpose go into the draft's lawful basis, which
// the catalog's product.created filing covers by its details_sha256, with the
// merchant as its actor. The draft then goes through the catalog's workflow:
// submit, review, approve.
//
// Errors: KindInvalid naming the request's fields (kind, consent, purpose, and
// scenarios, price_plans and attachments as the catalog checks them);
// KindConflict when there is nothing to list (no attested order data, no
// decision); KindForbidden for a merchant (or key) without the supplier role,
// a suspended merchant, or the operator and regulators, who may not consent for
// the merchant; KindNotFound for anyone else; KindUnauthorized.
func (s *Service) ListData(ctx context.Context, actor dataport.Actor, merchantID string, n NewDataProduct) (catalog.Product, error) {
	const op = "credit.ListData"
	if err := n.validate(op); err != nil {
		return catalog.Product{}, err
	}
	if s.catalog == nil || s.attested == nil {
		return catalog.Product{}, dataport.Internal(op, errors.New("no catalog to list in: ListThrough was not called"))
	}
	src := listing{kind: n.Kind}
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		var err error
		if src.merchant, err = s.mayList(tx, op, actor, merchantID); err != nil {
			return err
		}
		if n.Kind != DataCreditSummary {
			return nil
		}
		d, ok, err := s.LatestIn(tx, merchantID)
		if err != nil {
			return dataport.Wrap(op, err)
		}
		if !ok {
			return dataport.Errorf(op, dataport.KindConflict,
				"merchant %s has no credit decision to list: ask for one first (POST /api/v1/merchants/%s/decisions)", merchantID, merchantID)
		}
		src.decision = &d
		if src.decisionFiling, err = ledger.Get(tx, d.FilingSeq); err != nil {
			return dataport.Wrap(op, err)
		}
		src.dataFiling, err = ledger.Get(tx, d.DataThrough)
		return dataport.Wrap(op, err)
	})
	if err != nil {
		return catalog.Product{}, err
	}
	if src.shops, err = s.attested.Shops(ctx, actor, merchantID); err != nil {
		return catalog.Product{}, dataport.Wrap(op, err)
	}
	if n.Kind == DataOrders {
		if err := s.readAttestations(ctx, op, actor, merchantID, &src); err != nil {
			return catalog.Product{}, err
		}
	}
	d, err := src.details(n)
	if err != nil {
		return catalog.Product{}, dataport.Internal(op, err)
	}
	p, err := s.catalog.Create(ctx, actor, catalog.NewProduct{SupplierID: merchantID, Details: d})
	if err != nil {
		return catalog.Product{}, requestFields(op, err)
	}
	return p, nil
}

// mayList checks that actor may list merchantID's data, and returns the
// merchant: the merchant itself, active, in its merchant role, holding the
// supplier role and acting in it — the exchange lists data only from registered
// suppliers, and the operator grants the role. Listing is the merchant's own act
// of consent: the operator and regulators, who know the merchant, are refused;
// to anyone else there is no such merchant.
func (s *Service) mayList(tx *store.Tx, op string, actor dataport.Actor, merchantID string) (registry.Participant, error) {
	if err := registry.MayAct(tx, op, actor); err != nil {
		return registry.Participant{}, err
	}
	if actor.ParticipantID != merchantID {
		if actor.Has(dataport.RoleOperator, dataport.RoleRegulator) {
			if err := s.merchant(tx, op, merchantID, false); err != nil {
				return registry.Participant{}, err
			}
			return registry.Participant{}, dataport.Errorf(op, dataport.KindForbidden,
				"listing a merchant's data is the merchant's own act of consent: only merchant %s lists its data", merchantID)
		}
		return registry.Participant{}, noMerchant(op, merchantID)
	}
	if !actor.Has(dataport.RoleMerchant) {
		return registry.Participant{}, dataport.Errorf(op, dataport.KindForbidden, "this needs the merchant role")
	}
	if err := s.merchant(tx, op, merchantID, true); err != nil {
		return registry.Participant{}, err
	}
	p, err := s.reg.Participant(tx, merchantID)
	if err != nil {
		return registry.Participant{}, dataport.Wrap(op, err)
	}
	if !p.Has(dataport.RoleSupplier) {
		return registry.Participant{}, dataport.Errorf(op, dataport.KindForbidden,
			"the exchange lists data only from registered suppliers: merchant %s does not hold the supplier role, which the exchange operator grants", merchantID)
	}
	if !actor.Has(dataport.RoleSupplier) {
		return registry.Participant{}, dataport.Errorf(op, dataport.KindForbidden,
			"this API key does not act in the supplier role that merchant %s holds: list with a key that does (a key issued without roles acts in all of the participant's)", merchantID)
	}
	return p, nil
}

// requestFields turns the catalog's refusal of the draft into the request's
// terms: a problem in the scenarios, price plans or attachments the merchant
// sent names that field of the request. A problem in details the exchange wrote
// is the exchange's fault, never the merchant's.
func requestFields(op string, err error) error {
	fields := dataport.FieldsOf(err)
	if dataport.KindOf(err) != dataport.KindInvalid || len(fields) == 0 {
		return dataport.Wrap(op, err)
	}
	out := make([]dataport.FieldProblem, 0, len(fields))
	for _, f := range fields {
		field, ok := strings.CutPrefix(f.Field, "details.")
		name, _, _ := strings.Cut(strings.SplitN(field, "[", 2)[0], ".")
		if !ok || !slices.Contains(requested, name) {
			return dataport.Internal(op, fmt.Errorf("the catalog refused the details written for the merchant: %w", err))
		}
		out = append(out, dataport.FieldProblem{Field: field, Message: f.Message})
	}
	return &dataport.Error{Op: op, Kind: dataport.KindInvalid, Message: dataport.MessageOf(err), Fields: out, Err: err}
}

// attestation is one attested unit of a merchant's order data as a product
// cites it: a batch, or a live stream through its latest chunk, whose
// stream_sha256 covers every byte of the stream up to it.
type attestation struct {
	kind      string // batch or stream
	id        string // the batch's, or the stream's
	format    string
	chunks    int
	seq       int64  // the filing that attests it: the stream's latest chunk's
	filingSHA string // SHA-256 of that filing's entry, the log's leaf
	sha256    string // of its bytes
	bytes     int64
	accepted  int64
	inserted  int64
	first     time.Time
	last      time.Time
}

// readAttestations reads the merchant's attested batches, newest first, groups
// a live stream's chunks into one attestation, and reads the filings of those
// the draft cites one by one.
func (s *Service) readAttestations(ctx context.Context, op string, actor dataport.Actor, merchantID string, src *listing) error {
	streams := map[string]int{} // stream id → index in src.attested
	before := ""
	for page := 0; ; page++ {
		if page == maxBatchPages {
			src.truncated = true
			break
		}
		bs, err := s.attested.Batches(ctx, actor, merchantID, before, batchPage)
		if err != nil {
			return dataport.Wrap(op, err)
		}
		for _, b := range bs {
			if b.Kind == "stream" {
				if i, ok := streams[b.StreamID]; ok {
					a := &src.attested[i]
					a.chunks++
					a.bytes += b.Bytes
					a.accepted += b.Accepted
					a.inserted += b.Inserted
					a.first, a.last = earliest(a.first, b.FirstOrderAt), latest(a.last, b.LastOrderAt)
					if b.FilingSeq > a.seq {
						a.seq, a.sha256 = b.FilingSeq, b.StreamSHA256
					}
					continue
				}
				streams[b.StreamID] = len(src.attested)
				src.attested = append(src.attested, attestation{kind: "stream", id: b.StreamID, format: b.Format, chunks: 1,
					seq: b.FilingSeq, sha256: b.StreamSHA256, bytes: b.Bytes, accepted: b.Accepted, inserted: b.Inserted,
					first: b.FirstOrderAt, last: b.LastOrderAt})
				continue
			}
			src.attested = append(src.attested, attestation{kind: "batch", id: b.ID, format: b.Format, chunks: 1,
				seq: b.FilingSeq, sha256: b.SHA256, bytes: b.Bytes, accepted: b.Accepted, inserted: b.Inserted,
				first: b.FirstOrderAt, last: b.LastOrderAt})
		}
		if len(bs) < batchPage {
			break
		}
		before = bs[len(bs)-1].ID
	}
	// Batches whose every row was rejected are attested too (the merchant sent
	// them), but hold no order to sell.
	if !slices.ContainsFunc(src.attested, func(a attestation) bool { return a.inserted > 0 }) {
		return dataport.Errorf(op, dataport.KindConflict,
			"merchant %s has no attested order data to list: connect its shops and send their orders first", merchantID)
	}
	slices.SortFunc(src.attested, func(a, b attestation) int { return int(b.seq - a.seq) })
	return s.db.Read(ctx, func(tx *store.Tx) error {
		for i := range src.attested[:min(len(src.attested), maxCited)] {
			f, err := ledger.Get(tx, src.attested[i].seq)
			if err != nil {
				return dataport.Wrap(op, err)
			}
			src.attested[i].filingSHA = f.SHA256
		}
		return nil
	})
}

func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

func latest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// CreditSummary is what a credit_summary data product delivers: one decision
// as a buyer needs it — its score, grade, PD, line and reasons, the inputs they
// rest on, and what verifies it in the log. FeatureHash recomputes
// feature_hash from inputs, data_through and model.id.
type CreditSummary struct {
	DecisionID  string         `json:"decision_id"`
	MerchantID  string         `json:"merchant_id"`
	DecidedAt   time.Time      `json:"decided_at"`
	Model       ModelRef       `json:"model"`
	Score       int64          `json:"score"`
	PD          float64        `json:"pd"`
	Grade       RiskGrade      `json:"grade"`
	Line        dataport.Money `json:"line"`
	Reasons     []Reason       `json:"reasons"`
	Inputs      map[string]any `json:"inputs" doc:"the feature summary: the model's characteristics"`
	FeatureHash string         `json:"feature_hash"`
	DataThrough int64          `json:"data_through"`
	FilingSeq   int64          `json:"filing_seq"`
}

// SummaryOf is the credit summary of a decision.
func SummaryOf(d Decision) CreditSummary {
	return CreditSummary{DecisionID: d.ID, MerchantID: d.MerchantID, DecidedAt: d.DecidedAt, Model: d.Model,
		Score: d.Score, PD: d.PD, Grade: d.Grade, Line: d.Line, Reasons: d.Reasons, Inputs: d.Inputs,
		FeatureHash: d.FeatureHash, DataThrough: d.DataThrough, FilingSeq: d.FilingSeq}
}

// listing is what a draft's details are written from.
type listing struct {
	kind     DataKind
	merchant registry.Participant
	shops    []finance.Shop
	// orders
	attested  []attestation // newest first
	truncated bool          // more than maxBatchPages pages: the oldest were not read
	// credit_summary
	decision                   *Decision
	decisionFiling, dataFiling ledger.Filing
}

// The catalog's limits on what the details hold (catalog.Details' tags): the
// exchange keeps within them, so that the merchant can revise the draft as it
// stands.
const (
	maxTitle       = 300
	maxText        = 2000
	maxSample      = 20000
	maxCoverage    = 500
	maxTag         = 50
	maxNameInTitle = 120
)

// details writes the draft's details.
func (l *listing) details(n NewDataProduct) (catalog.Details, error) {
	name := l.merchant.LegalName
	if name.Zh == "" {
		name.Zh = name.En
	}
	if name.En == "" {
		name.En = name.Zh
	}
	short := dataport.Bilingual{Zh: clip(name.Zh, maxNameInTitle), En: clip(name.En, maxNameInTitle)}
	origin := l.merchant.Jurisdiction
	if origin == "" {
		origin = "CN"
	}
	d := catalog.Details{
		Coverage:      l.coverage(short),
		DeliveryModes: []string{"file"},
		Scenarios:     n.Scenarios,
		PricePlans:    n.PricePlans,
		Restrictions: "不得出境（export_allowed 为 false）；仅用于所声明的使用场景。" +
			"Not for export (export_allowed is false); for the declared use scenarios only.",
		Source:      "enterprise",
		LawfulBasis: clip(l.consent(short, n.Purpose), maxText),
		// The merchant holds its own data, processes it and, listing it, operates
		// the product: the three rights are its own.
		Rights: catalog.Rights{Holding: true, ProcessingUse: true, ProductOperation: true},
		// General data of sub-level 2: commercially sensitive to the merchant, no
		// personal information (the order schema names no buyer).
		Grade: "general", Sublevel: 2, PISubjects: 0, SensitivePISubjects: 0,
		OriginJurisdiction: origin, ExportAllowed: false,
		Attachments: n.Attachments,
	}
	var err error
	switch l.kind {
	case DataOrders:
		err = l.orderDetails(&d, short)
	case DataCreditSummary:
		err = l.summaryDetails(&d, short)
	}
	if err != nil {
		return catalog.Details{}, err
	}
	d.Title = dataport.Bilingual{Zh: clip(d.Title.Zh, maxTitle), En: clip(d.Title.En, maxTitle)}
	d.Summary = dataport.Bilingual{Zh: clip(d.Summary.Zh, maxTitle), En: clip(d.Summary.En, maxTitle)}
	d.Description = dataport.Bilingual{Zh: clip(d.Description.Zh, maxText), En: clip(d.Description.En, maxText)}
	return d, nil
}

// consent is the lawful basis of the listing: the holder's own consent and
// purpose. Its words are in the details, so the product.created filing's
// details_sha256 covers them, and that filing's actor and key are who consented.
func (l *listing) consent(name dataport.Bilingual, purpose string) string {
	what := map[DataKind][2]string{DataOrders: {"经核验的订单数据", "attested order data"},
		DataCreditSummary: {"最新授信决策（信用摘要）", "latest credit decision (credit summary)"}}[l.kind]
	return fmt.Sprintf("数据持有方本人上架：%s（%s）明确同意将其%s作为数据产品在交易所上架，用途：%s。"+
		"此同意随本修订以 product.created 备案，备案的操作者与密钥即同意者，其 details_sha256 涵盖本文。"+
		"Listed by the data's own holder: %s (%s) explicitly consents to list its %s on the exchange as a data product, "+
		"for this purpose: %s. The consent is filed with this revision as product.created: that filing's actor and key "+
		"are who consented, and its details_sha256 covers this text.",
		name.Zh, l.merchant.ID, what[0], purpose, name.En, l.merchant.ID, what[1], purpose)
}

// coverage names the merchant's shops: what the data covers.
func (l *listing) coverage(name dataport.Bilingual) string {
	var b strings.Builder
	if name.Zh == name.En {
		fmt.Fprintf(&b, "%s: ", name.Zh)
	} else {
		fmt.Fprintf(&b, "%s / %s: ", name.Zh, name.En)
	}
	for i, sh := range l.shops {
		item := fmt.Sprintf("%s:%s %s", sh.Platform, sh.ExternalID, sh.Name)
		if i > 0 {
			item = "; " + item
		}
		rest := fmt.Sprintf("; … %d more", len(l.shops)-i)
		if utf8.RuneCountInString(b.String()+item+rest) > maxCoverage {
			b.WriteString(rest)
			break
		}
		b.WriteString(item)
	}
	return clip(b.String(), maxCoverage)
}

// platforms are the shops' platforms, each once, in the order of the shops.
func (l *listing) platforms() []string {
	var out []string
	for _, sh := range l.shops {
		if !slices.Contains(out, sh.Platform) {
			out = append(out, sh.Platform)
		}
	}
	return out
}

func (l *listing) orderDetails(d *catalog.Details, name dataport.Bilingual) error {
	var orders int64
	var first, last time.Time
	streamed := false
	for _, a := range l.attested {
		orders += a.inserted
		first, last = earliest(first, a.first), latest(last, a.last)
		streamed = streamed || a.kind == "stream"
	}
	span := catalog.TimeSpan{}
	if !first.IsZero() {
		span = catalog.TimeSpan{From: day(first), To: day(last)}
	}
	platforms := strings.Join(l.platforms(), ", ")
	newest := l.attested[0].seq
	d.Type, d.Category, d.TimeSpan = "dataset", "e-commerce", span
	// A merchant that streams its orders sends them as they happen; batches come
	// when the merchant sends them. The draft is the data attested through its
	// newest filing: later data is listed by revising the product.
	d.UpdateFrequency = "irregular"
	if streamed {
		d.UpdateFrequency = "realtime"
	}
	d.Title = dataport.Bilingual{Zh: name.Zh + " 电商订单数据（交易所核验）", En: name.En + ": e-commerce order data attested by the exchange"}
	d.Summary = dataport.Bilingual{
		Zh: fmt.Sprintf("%d 家店铺（%s）的 %d 笔订单，%s 至 %s，分 %d 次提交；每次提交的 SHA-256 均已在交易所日志备案，交付的数据与备案逐字节一致。",
			len(l.shops), platforms, orders, span.From, span.To, len(l.attested)),
		En: fmt.Sprintf("%s of %s (%s), %s to %s, sent in %s; the SHA-256 of each is filed in the exchange's log, and the data delivered is byte for byte what was filed.",
			count(orders, "order", "orders"), count(len(l.shops), "shop", "shops"), platforms, span.From, span.To, attestedCount(len(l.attested))),
	}
	which := dataport.Bilingual{Zh: fmt.Sprintf("共 %d 次提交", len(l.attested)), En: attestedCount(len(l.attested))}
	if l.truncated {
		which = dataport.Bilingual{Zh: fmt.Sprintf("最近的 %d 次提交", len(l.attested)), En: "the newest " + attestedCount(len(l.attested))}
	}
	intro := dataport.Bilingual{
		Zh: fmt.Sprintf("本产品是%s（%s）经交易所核验的订单数据：%s中的 %d 笔订单，%s 至 %s，截至备案 #%d。"+
			"交易所在接收每次提交时计算其字节的 SHA-256，并在同一事务中以 finance.batch_attested（实时流为 finance.stream_attested）备案于其透明日志。"+
			"交付的文件与提交的字节完全一致：买方对每个文件计算 SHA-256，与其备案中的 sha256（实时流为 stream_sha256）比对。"+
			"备案可从公开日志的条目瓦片（/log/tile/entries/…）读取，按下列序号与备案 SHA-256 核对，并以 dataport verify 验证其包含于已签名的检查点；样例列出每次提交。"+
			"核验备案（序号 · 备案 SHA-256）：",
			name.Zh, l.merchant.ID, which.Zh, orders, span.From, span.To, newest),
		En: fmt.Sprintf("The order data of %s (%s) as attested by the exchange: %s in %s, %s to %s, through filing #%d. "+
			"The exchange hashed the bytes of each with SHA-256 as they arrived and filed the hash, in the same transaction, as finance.batch_attested "+
			"(finance.stream_attested for a live stream) in its transparency log. The files delivered are exactly the bytes attested: hash each and "+
			"compare it with its filing's sha256 (stream_sha256 for a stream). The filings are public in the log's entry tiles (/log/tile/entries/…): "+
			"check each against its seq and filing SHA-256 below, and its inclusion in a signed checkpoint with dataport verify; the sample lists every one. "+
			"Attestations (seq · filing SHA-256):",
			name.En, l.merchant.ID, count(orders, "order", "orders"), which.En, span.From, span.To, newest),
	}
	cites := make([]string, 0, len(l.attested))
	for _, a := range l.attested[:min(len(l.attested), maxCited)] {
		cites = append(cites, fmt.Sprintf("#%d · %s", a.seq, a.filingSHA))
	}
	d.Description = dataport.Bilingual{Zh: cite(intro.Zh, cites, len(l.attested), "另有 %d 项，见样例。"),
		En: cite(intro.En, cites, len(l.attested), "and %d more, listed in the sample.")}
	d.Tags = tags("订单数据", "order data", "电商", "e-commerce", "数据核验", "attested data")
	d.Tags = tags(append(d.Tags, l.platforms()...)...)
	d.Fields = slices.Clone(orderFields)
	d.Sample = l.manifest()
	return nil
}

// manifest is an orders product's sample: the attestations it consists of, one
// CSV row each, newest first. The records themselves are delivered only under a
// deal: a listed product's sample is shown to every member of the exchange.
func (l *listing) manifest() string {
	var b strings.Builder
	b.WriteString("# The attested batches and live streams this product delivers, newest first; the order records follow its field dictionary.\n")
	b.WriteString("filing_seq,filing_sha256,attested,id,format,sha256,bytes,rows_accepted,orders,first_order_at,last_order_at\n")
	for i, a := range l.attested {
		kind := a.kind
		if a.kind == "stream" {
			kind = fmt.Sprintf("stream of %d chunks", a.chunks)
		}
		line := fmt.Sprintf("%d,%s,%s,%s,%s,%s,%d,%d,%d,%s,%s\n", a.seq, a.filingSHA, kind, a.id, a.format, a.sha256, a.bytes,
			a.accepted, a.inserted, stamp(a.first), stamp(a.last))
		more := fmt.Sprintf("# … and %d older, each a finance.batch_attested or finance.stream_attested filing naming %s\n", len(l.attested)-i, l.merchant.ID)
		if i == maxCited || b.Len()+len(line)+len(more) > maxSample {
			b.WriteString(more)
			break
		}
		b.WriteString(line)
	}
	return b.String()
}

func (l *listing) summaryDetails(d *catalog.Details, name dataport.Bilingual) error {
	dec := l.decision
	to := dec.DecidedAt.In(dataport.China)
	d.Type, d.Category = "report", "finance"
	// The features read finance.SpanDays days up to the decision's day.
	d.TimeSpan = catalog.TimeSpan{From: day(to.AddDate(0, 0, -(finance.SpanDays - 1))), To: day(to)}
	// A merchant or the operator asks for a new decision when it needs one; the
	// draft is this decision, and a later one is listed by revising the product.
	d.UpdateFrequency = "irregular"
	d.Title = dataport.Bilingual{Zh: name.Zh + " 信用摘要：信用分、风险等级与授信额度", En: name.En + ": credit summary, with score, risk grade and credit line"}
	pd := strconv.FormatFloat(dec.PD*100, 'f', 2, 64)
	d.Summary = dataport.Bilingual{
		Zh: fmt.Sprintf("交易所 %s 的授信决策：信用分 %d，风险等级 %s，违约概率 %s%%，授信额度 %s 元；依据 %d 家店铺（%s）截至备案 #%d 的经核验订单数据，模型 %s。",
			day(to), dec.Score, dec.Grade, pd, yuanText(dec.Line.Amount), len(l.shops), strings.Join(l.platforms(), ", "), dec.DataThrough, dec.Model.Version),
		En: fmt.Sprintf("The exchange's credit decision of %s: score %d, risk grade %s, PD %s%%, credit line CNY %s; from the attested order data of %s (%s) through filing #%d, model %s.",
			day(to), dec.Score, dec.Grade, pd, yuanText(dec.Line.Amount), count(len(l.shops), "shop", "shops"), strings.Join(l.platforms(), ", "), dec.DataThrough, dec.Model.Version),
	}
	d.Description = dataport.Bilingual{
		Zh: fmt.Sprintf("本产品是%s（%s）在交易所的授信决策 %s（%s）：信用分、风险等级、违约概率、授信额度、扣分最多的原因，及其所依据的模型输入。"+
			"决策以 credit.decided 备案：#%d · %s；备案载有信用分、等级、违约概率、额度、原因、模型 id 与输入哈希。"+
			"输入所依据的经核验订单数据截至备案 #%d · %s（%s）。"+
			"两项备案均可从公开日志的条目瓦片（/log/tile/entries/…）读取，按序号与备案 SHA-256 核对，并以 dataport verify 验证其包含于已签名的检查点；"+
			"feature_hash 是 {inputs, data_through, model: 模型 id} 的 RFC 8785 规范 JSON 的 SHA-256，可由交付的数据重新计算。模型、等级标尺与额度政策见 GET /api/v1/credit/model。",
			name.Zh, l.merchant.ID, dec.ID, day(to), l.decisionFiling.Seq, l.decisionFiling.SHA256, l.dataFiling.Seq, l.dataFiling.SHA256, l.dataFiling.Type),
		En: fmt.Sprintf("The credit decision %s of %s (%s) on the exchange, of %s: score, risk grade, PD, credit line, the reasons that cost the most points, "+
			"and the model's inputs they rest on. The decision is filed as credit.decided: #%d · %s; that filing carries the score, grade, PD, line, "+
			"reasons, model id and feature hash. The inputs rest on the attested order data through filing #%d · %s (%s). Both filings are public "+
			"in the log's entry tiles (/log/tile/entries/…): check each against its seq and filing SHA-256, and its inclusion in a signed checkpoint "+
			"with dataport verify. feature_hash is the SHA-256 of the RFC 8785 canonical JSON of {inputs, data_through, model: the model id}, "+
			"recomputed from the data delivered. The model, master scale and line policy: GET /api/v1/credit/model.",
			dec.ID, name.En, l.merchant.ID, day(to), l.decisionFiling.Seq, l.decisionFiling.SHA256, l.dataFiling.Seq, l.dataFiling.SHA256, l.dataFiling.Type),
	}
	d.Tags = tags("信用分", "credit score", "风险等级", "risk grade", "授信额度", "credit line", "数据核验", "attested data", "电商", "e-commerce")
	d.Fields = summaryFields()
	sample, err := json.MarshalIndent(SummaryOf(*dec), "", "  ")
	if err != nil {
		return err
	}
	d.Sample = string(sample)
	return nil
}

// cite appends as many citations to intro as fit the catalog's length of a
// text, and says how many more there are.
func cite(intro string, cites []string, total int, more string) string {
	out := intro
	for i, c := range cites {
		rest := ""
		if total > i+1 {
			rest = " " + fmt.Sprintf(more, total-i-1)
		}
		sep := " "
		if i > 0 {
			sep = "; "
		}
		if utf8.RuneCountInString(out+sep+c+rest) > maxText {
			return out + " " + fmt.Sprintf(more, total-i)
		}
		out += sep + c
	}
	if total > len(cites) {
		out += " " + fmt.Sprintf(more, total-len(cites))
	}
	return out
}

// count says n things in English: 1 shop, 2 shops.
func count[N int | int64](n N, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

func attestedCount(n int) string {
	return count(n, "attested batch or stream", "attested batches or streams")
}

// tags keeps the first of each tag, at most 30, each within the catalog's length.
func tags(ts ...string) []string {
	var out []string
	for _, t := range ts {
		t = clip(strings.TrimSpace(t), maxTag)
		if t != "" && !slices.Contains(out, t) && len(out) < 30 {
			out = append(out, t)
		}
	}
	return out
}

// clip cuts s to at most n characters, marking the cut.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// day is t's day in China Standard Time, the exchange's calendar.
func day(t time.Time) string { return t.In(dataport.China).Format(time.DateOnly) }

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(dataport.China).Format(time.RFC3339)
}

// yuanText writes fen as yuan with thousands separated: 1234500 → 12,345.00.
func yuanText(fen int64) string {
	sign := ""
	if fen < 0 {
		sign, fen = "-", -fen
	}
	whole := strconv.FormatInt(fen/100, 10)
	var b strings.Builder
	for i, c := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return fmt.Sprintf("%s%s.%02d", sign, b.String(), fen%100)
}

func field(name, typ, zh, en string) catalog.Field {
	return catalog.Field{Name: name, Type: typ, Description: dataport.Bilingual{Zh: zh, En: en}}
}

// orderFields is the field dictionary of finance's order schema (package
// finance, "Order data"), what an orders product's records hold.
var orderFields = []catalog.Field{
	field("order_id", "string", "平台订单号，1–128 个字符", "the platform's order id, 1–128 characters"),
	field("shop", "string", "店铺：交易所 id（shp_…）、平台上的店铺 id，或 平台:id（taobao:12345）", "the shop: its exchange id (shp_…), its id on its platform, or platform:id (taobao:12345)"),
	field("ordered_at", "timestamp", "下单时间，RFC 3339，含时区", "when the order was placed, RFC 3339 with its zone"),
	field("amount", "decimal", "订单金额，主单位的十进制数（12.30）；或以 amount_minor 给出", "the order's amount in major units as a decimal (12.30); or amount_minor"),
	field("amount_minor", "integer", "订单金额，最小货币单位（1230）", "the order's amount in minor units (1230)"),
	field("currency", "string", "ISO 4217 货币代码：CNY、USD …", "ISO 4217 currency code: CNY, USD …"),
	field("status", "enum", "paid、shipped、delivered、returned、refunded 或 cancelled", "paid, shipped, delivered, returned, refunded or cancelled"),
	field("refund_amount", "decimal", "已退款金额（或 refund_amount_minor），不超过订单金额", "refunded so far (or refund_amount_minor), not more than the amount"),
	field("refund_amount_minor", "integer", "已退款金额，最小货币单位", "refunded so far, in minor units"),
	field("complaint", "boolean", "买家是否投诉", "whether the buyer complained"),
	field("rating", "integer", "买家评分，1 至 5", "the buyer's rating, 1 to 5"),
	field("logistics", "string", "物流事件及时间：JSON 数组或 shipped@…;delivered@…", "logistics events with their times: a JSON array or shipped@…;delivered@…"),
	field("expected_settlement", "date", "平台应向商户付款之日（应收账款），YYYY-MM-DD，中国标准时间", "the day the platform is to pay the merchant (the receivable), YYYY-MM-DD, China Standard Time"),
	field("settled_at", "timestamp", "平台付款时间，RFC 3339", "when the platform paid, RFC 3339"),
	field("updated_at", "timestamp", "平台上此版本订单的时间，RFC 3339", "the platform's time of this version of the order, RFC 3339"),
}

// inputFields describe the model's characteristics (the package
// documentation's table), in InputNames' order.
var inputFields = [][2]string{
	{"30 天内未取消的订单数", "orders placed in 30 days, not cancelled"},
	{"30 天订单增长率：(订单数 − 前 30 天) / 前 30 天", "(orders − the previous 30 days') / the previous 30 days'"},
	{"90 天订单增长率", "the same over 90 days"},
	{"90 天日订单数的变异系数", "coefficient of variation of daily orders over 90 days"},
	{"90 天人民币销售额，元", "CNY sales over 90 days, yuan"},
	{"90 天日销售额的变异系数", "coefficient of variation of daily CNY sales over 90 days"},
	{"30 天取消率", "cancelled / (orders + cancelled), 30 days"},
	{"90 天退货率", "returned / orders, 90 days"},
	{"30 天退款订单比例", "orders with a refund / orders, 30 days"},
	{"90 天投诉率", "orders with a complaint / orders, 90 days"},
	{"90 天买家平均评分", "mean buyer rating, 90 days"},
	{"30 天内 48 小时内发货的比例", "orders shipped within 48 hours / orders shipped, 30 days"},
	{"90 天各店铺销售额份额的赫芬达尔指数", "Herfindahl index of the shops' shares of CNY sales, 90 days"},
	{"决策后 7 至 21 天到期的未结人民币应收账款，元", "open CNY receivables due 7 to 21 days after the decision, yuan"},
	{"90 天内有订单的店铺数", "shops with an order in 90 days"},
}

// summaryFields is the field dictionary of CreditSummary.
func summaryFields() []catalog.Field {
	fs := []catalog.Field{
		field("decision_id", "string", "授信决策 id", "the credit decision's id"),
		field("merchant_id", "string", "商户的参与方 id", "the merchant's participant id"),
		field("decided_at", "timestamp", "决策时间，亦即计算特征的时刻，RFC 3339", "when it was decided, also the moment the features were computed at, RFC 3339"),
		field("model.id", "string", "模型的内容 id：其规范 JSON 的 SHA-256", "the model's content id: SHA-256 of its canonical JSON"),
		field("model.version", "string", "模型版本", "the model's version"),
		field("score", "integer", "信用分：越高越安全", "the credit score: higher is safer"),
		field("pd", "number", "未来 6 个月的违约概率", "probability of default over the next 6 months"),
		field("grade", "enum", "风险等级 A 至 E（主标尺的违约概率区间）", "risk grade A to E: the master scale's band of the PD"),
		field("line.amount", "integer", "授信额度，分", "the credit line, fen"),
		field("line.currency", "string", "CNY", "CNY"),
		field("reasons", "array", "至多四项扣分最多的特征：characteristic、value、bin、points、points_lost", "at most four characteristics that cost most points: characteristic, value, bin, points, points_lost"),
		field("feature_hash", "string", "{inputs, data_through, model} 的 RFC 8785 规范 JSON 的 SHA-256", "SHA-256 of the RFC 8785 canonical JSON of {inputs, data_through, model}"),
		field("data_through", "integer", "输入所依据的最新核验订单数据备案序号", "the filing of the latest attested order data the inputs rest on"),
		field("filing_seq", "integer", "决策的 credit.decided 备案序号", "the decision's credit.decided filing"),
	}
	for i, n := range InputNames {
		fs = append(fs, field("inputs."+n, "number", inputFields[i][0]+"；缺失为 null", inputFields[i][1]+"; null when missing"))
	}
	return fs
}
