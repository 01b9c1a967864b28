package web

import (
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/ledger"
)

// The regulator's pages (监管方): the log's latest checkpoint with the filings
// counted by type, the trace of a participant, product or deal through its
// filings (交易备案), and each filing with its inclusion proof against the latest
// checkpoint — downloadable as a C2SP tlog-proof bundle and checked in the browser
// by static/verify.js, which recomputes the RFC 6962 hashes and verifies the
// checkpoint's Ed25519 signed-note signature itself, so that a regulator need not
// trust the exchange's server for the proof. The server checks the same proof too
// and says so, for a browser without JavaScript.
//
// The ledger decides who reads what (ledger.Reader): the operator and regulators
// read every filing. The pages are for both; the navigation shows them to
// regulators.

func (c *Console) regulatorRoutes() {
	roles := []dataport.Role{dataport.RoleRegulator, dataport.RoleOperator}
	c.page("GET /regulator", signedIn, c.regulatorHome, roles...)
	c.page("GET /regulator/trace", signedIn, c.regulatorTrace, roles...)
	c.page("GET /regulator/filings/{seq}", signedIn, c.regulatorFiling, roles...)
	c.page("GET /regulator/verify", signedIn, c.regulatorVerifyPage, roles...)
	c.page("POST /regulator/verify", signedIn, c.regulatorVerify, roles...)
}

func init() {
	if _, dup := enums["regulator.by"]; dup {
		panic("web: the set regulator.by is registered twice")
	}
	enums["regulator.by"] = traceBys
}

// traceBys are what a trace follows: a participant, a product or a deal, each an
// id of its own form (dataport.NewID: a prefix, "_", a ULID in lower case).
var traceBys = []string{"participant", "product", "deal"}

var idForms = map[string]*regexp.Regexp{
	"participant": regexp.MustCompile(`^prt_[0-9a-z]{26}$`),
	"product":     regexp.MustCompile(`^prd_[0-9a-z]{26}$`),
	"deal":        regexp.MustCompile(`^deal_[0-9a-z]{26}$`),
}

// subjectKind names what an id is by its form, "" when it is none of traceBys.
func subjectKind(id string) string {
	for _, by := range traceBys {
		if idForms[by].MatchString(id) {
			return by
		}
	}
	return ""
}

// tracePage is how many filings a page of a trace shows.
const tracePage = 50

// checkpointView is a signed checkpoint as the pages show it: what it says, the
// signed note as served at /log/checkpoint, and who signed it.
type checkpointView struct {
	Origin       string
	Size         int64
	Root         string // hex
	RootBase64   string // as the note spells it
	Note         string // the signed note, cosignatures included
	VerifierKey  string
	Signature    noteSignature   // the log's own
	Cosignatures []noteSignature // the witnesses' (C2SP tlog-cosignature)
}

// noteSignature is a signature line of a signed note: "— name base64(keyID‖sig)".
type noteSignature struct {
	Name  string
	KeyID string // hex, the first four bytes of the signature
}

// openCheckpoint verifies a signed checkpoint with the log's verifier key, as
// `dataport verify` does, and lays it out for a page.
func (c *Console) openCheckpoint(signed []byte) (checkpointView, error) {
	vkey := c.deps.Log.VerifierKey()
	cp, err := ledger.OpenCheckpoint(signed, vkey)
	if err != nil {
		return checkpointView{}, dataport.Internal("web.openCheckpoint", err)
	}
	v := checkpointView{Origin: cp.Origin, Size: cp.Size, Root: hex.EncodeToString(cp.Root[:]),
		RootBase64: base64.StdEncoding.EncodeToString(cp.Root[:]), Note: string(signed), VerifierKey: vkey}
	_, sigs, _ := strings.Cut(string(signed), "\n\n")
	keyName, keyID, _ := strings.Cut(vkey, "+")
	keyID, _, _ = strings.Cut(keyID, "+")
	for _, line := range strings.Split(sigs, "\n") {
		rest, ok := strings.CutPrefix(line, "— ")
		if !ok {
			continue
		}
		name, sig, _ := strings.Cut(rest, " ")
		s := noteSignature{Name: name}
		if b, err := base64.StdEncoding.DecodeString(sig); err == nil && len(b) >= 4 {
			s.KeyID = hex.EncodeToString(b[:4])
		}
		if name == keyName && s.KeyID == keyID && v.Signature.Name == "" {
			v.Signature = s
		} else {
			v.Cosignatures = append(v.Cosignatures, s)
		}
	}
	return v, nil
}

// latestCheckpoint is the log's latest checkpoint with its witnesses'
// cosignatures; nil before the log has signed one.
func (c *Console) latestCheckpoint(q *Request) (*checkpointView, error) {
	if _, ok := c.deps.Log.Latest(); !ok {
		return nil, nil
	}
	signed, err := c.deps.Log.CosignedCheckpoint(q.Context())
	if err != nil {
		return nil, err
	}
	v, err := c.openCheckpoint(signed)
	if err != nil {
		return nil, err
	}
	return &v, nil
}

// regulatorPage is the data of the overview and of the trace (one template: the
// trace form is the overview's, and a trace shows its results under it).
type regulatorPage struct {
	Checkpoint *checkpointView
	Filed      int64 // filings, integrated into the log or not yet
	Counts     []ledger.TypeCount
	Kinds      []string // the types filed, for the trace form's choice
	Form       *Form
	Bys        []string
	Tracing    bool // a trace was asked for (the results section shows)
	Traced     bool // and ran: the form was valid
	By         string
	Subject    string
	Filings    []filingRow
	NextURL    string
	FirstURL   string
}

// filingRow is a filing in a trace's table.
type filingRow struct {
	Seq      int64
	FiledAt  time.Time
	Type     string
	Actor    string // the filer's name as the reader may see it
	ActorID  string
	Subjects []subjectLink
	SHA256   string
}

// subjectLink is a filing's subject, linked to its own trace when it is one of
// the kinds a trace follows.
type subjectLink struct {
	ID    string
	Trace string
}

func subjectLinks(ids []string) []subjectLink {
	out := make([]subjectLink, len(ids))
	for i, id := range ids {
		out[i] = subjectLink{ID: id}
		if by := subjectKind(id); by != "" {
			out[i].Trace = mustQuery("/regulator/trace", "by", by, "id", id)
		}
	}
	return out
}

func (c *Console) regulatorHome(q *Request) error {
	d, err := c.regulatorOverview(q, NewForm(nil), true)
	if err != nil {
		return err
	}
	return q.Render(http.StatusOK, "regulator", d)
}

// regulatorOverview gathers what the overview shows: the counts (the trace
// form's choice of kinds comes from them) and, unless tracing, the checkpoint.
func (c *Console) regulatorOverview(q *Request, f *Form, checkpoint bool) (regulatorPage, error) {
	d := regulatorPage{Form: f, Bys: traceBys}
	var err error
	if checkpoint {
		if d.Checkpoint, err = c.latestCheckpoint(q); err != nil {
			return d, err
		}
	}
	if d.Counts, err = c.deps.Filings.CountByType(q.Context(), q.Actor); err != nil {
		return d, err
	}
	for _, n := range d.Counts {
		d.Filed += n.Count
		d.Kinds = append(d.Kinds, n.Type)
	}
	// The counts come most frequent first; the form's choice reads better by name.
	slices.Sort(d.Kinds)
	return d, nil
}

// regulatorTrace follows a participant, a product or a deal through its filings,
// in filing order, optionally of one type and within dates (China's calendar,
// as the exchange's filings are dated), a page at a time.
func (c *Console) regulatorTrace(q *Request) error {
	f := q.Form()
	d, err := c.regulatorOverview(q, f, false)
	if err != nil {
		return err
	}
	d.Tracing = true
	d.By, d.Subject = f.Get("by"), f.Get("id")
	tf := ledger.Filter{Subject: d.Subject, Type: f.Get("kind"), Limit: tracePage + 1}
	switch form, ok := idForms[d.By]; {
	case !ok:
		f.Fail("by", q.T("regulator.error.by"))
	case d.Subject == "":
		f.Fail("id", q.T("regulator.error.id.missing"))
	case !form.MatchString(d.Subject):
		f.Fail("id", q.T("regulator.error.id."+d.By))
	}
	if tf.Type != "" && !slices.Contains(d.Kinds, tf.Type) {
		f.Fail("kind", q.T("regulator.error.kind"))
	}
	var ok bool
	if tf.From, ok = parseDay(f.Get("from")); !ok {
		f.Fail("from", q.T("regulator.error.date"))
	}
	if tf.Until, ok = parseDay(f.Get("to")); !ok {
		f.Fail("to", q.T("regulator.error.date"))
	} else if !tf.Until.IsZero() {
		tf.Until = tf.Until.AddDate(0, 0, 1) // to a day is up to its end
	}
	if after := f.Get("after"); after != "" {
		if tf.After, err = strconv.ParseInt(after, 10, 64); err != nil || tf.After < 0 {
			f.Fail("", q.T("regulator.error.after"))
		}
	}
	if f.Invalid() {
		return q.Render(http.StatusUnprocessableEntity, "regulator", d)
	}
	fs, err := c.deps.Filings.List(q.Context(), q.Actor, tf)
	if f.Absorb(err, q.Localizer, Fields{"until": {Input: "to", Message: "regulator.error.period"}}) {
		return q.Render(http.StatusUnprocessableEntity, "regulator", d)
	}
	if err != nil {
		return err
	}
	d.Traced = true
	base := mustQuery("/regulator/trace", "by", d.By, "id", d.Subject, "kind", tf.Type, "from", f.Get("from"), "to", f.Get("to"))
	if len(fs) > tracePage {
		fs = fs[:tracePage]
		d.NextURL = mustQuery(base, "after", strconv.FormatInt(fs[len(fs)-1].Seq, 10))
	}
	if tf.After > 0 {
		d.FirstURL = base
	}
	names := c.participantNames(q)
	for _, fl := range fs {
		d.Filings = append(d.Filings, filingRow{Seq: fl.Seq, FiledAt: fl.FiledAt, Type: fl.Type, Actor: names(fl.Actor),
			ActorID: fl.Actor, Subjects: subjectLinks(fl.Subjects), SHA256: fl.SHA256})
	}
	return q.Render(http.StatusOK, "regulator", d)
}

// parseDay reads a date input (YYYY-MM-DD) as the start of that day in China;
// "" is no bound.
func parseDay(s string) (time.Time, bool) {
	if s == "" {
		return time.Time{}, true
	}
	t, err := time.ParseInLocation(time.DateOnly, s, dataport.China)
	return t, err == nil
}

// filingPage is the data of a filing's page.
type filingPage struct {
	Filing   ledger.Filing
	Actor    string
	Subjects []subjectLink
	LeafHash string // hex, RFC 6962: SHA-256(0x00 ‖ entry)
	// Covered: a signed checkpoint covers the filing, and the proof below is
	// against it.
	Covered    bool
	Checkpoint *checkpointView
	Index      int64    // the filing's leaf index: seq − 1
	Path       []string // the audit path, hex, leaf to root
	Bundle     string   // the C2SP tlog-proof, as downloaded
	Download   string   // the bundle's link
	ServerErr  string   // why the server's own check failed; "" when it holds
	Script     proofData
}

// proofData is what static/verify.js checks, in a <script type="application/json">
// block: the entry, its index, the audit path and the signed checkpoint, each as
// the tlog-proof bundle carries it, and the log's verifier key.
type proofData struct {
	Entry      string   `json:"entry"` // base64
	Leaf       string   `json:"leaf"`  // hex, the leaf hash the page states
	Index      int64    `json:"index"`
	Proof      []string `json:"proof"`      // base64
	Checkpoint string   `json:"checkpoint"` // the signed note
	Key        string   `json:"key"`        // the log's verifier key
}

// regulatorFiling shows one filing with its inclusion proof against the latest
// checkpoint; ?download=proof answers with the proof bundle as a file.
func (c *Console) regulatorFiling(q *Request) error {
	seq, err := strconv.ParseInt(q.PathValue("seq"), 10, 64)
	if err != nil || seq < 1 {
		return dataport.Errorf("web.regulatorFiling", dataport.KindNotFound, "no filing %q: a filing is numbered from 1", q.PathValue("seq"))
	}
	fl, err := c.deps.Filings.Get(q.Context(), q.Actor, seq)
	if err != nil {
		return err
	}
	d := filingPage{Filing: fl, Actor: c.participantNames(q)(fl.Actor), Subjects: subjectLinks(fl.Subjects),
		LeafHash: hex.EncodeToString(ledger.LeafHash(fl.Entry)), Index: fl.Seq - 1}
	cp, ok := c.deps.Log.Latest()
	if ok && cp.Size >= fl.Seq {
		// The proof is against the checkpoint as the log signed it; the page shows
		// the witnesses' cosignatures of the latest one beside it.
		proof, err := c.deps.Log.InclusionProof(q.Context(), fl.Seq, cp.Size)
		if err != nil {
			return err
		}
		if d.Bundle, err = c.deps.Log.ProofBundle(q.Context(), fl, cp); err != nil {
			return err
		}
		if q.URL.Query().Get("download") == "proof" {
			h := q.W.Header()
			h.Set("Content-Type", "text/plain; charset=utf-8")
			h.Set("Content-Disposition", `attachment; filename="filing-`+strconv.FormatInt(fl.Seq, 10)+`.tlog-proof"`)
			q.W.WriteHeader(http.StatusOK)
			_, err := q.W.Write([]byte(d.Bundle))
			return err
		}
		view, err := c.openCheckpoint(cp.Note)
		if err != nil {
			return err
		}
		d.Covered, d.Checkpoint = true, &view
		d.Script = proofData{Entry: base64.StdEncoding.EncodeToString(fl.Entry), Leaf: d.LeafHash, Index: d.Index,
			Checkpoint: string(cp.Note), Key: c.deps.Log.VerifierKey()}
		for _, h := range proof {
			d.Path = append(d.Path, hex.EncodeToString(h))
			d.Script.Proof = append(d.Script.Proof, base64.StdEncoding.EncodeToString(h))
		}
		// The server checks the bundle as anyone would, with the log's public key
		// only: what it says is what `dataport verify` would say.
		if _, _, err := ledger.VerifyProofBundle([]byte(d.Bundle), c.deps.Log.VerifierKey(), fl.Entry); err != nil {
			d.ServerErr = err.Error()
		}
		d.Download = mustQuery(q.URL.Path, "download", "proof")
	} else if q.URL.Query().Get("download") == "proof" {
		return dataport.Errorf("web.regulatorFiling", dataport.KindConflict,
			"filing %d is not yet covered by a signed checkpoint: try again in a moment", fl.Seq)
	}
	return q.Render(http.StatusOK, "regulator-filing", d)
}

// verifyPage is the data of the page that checks a proof bundle someone was given.
type verifyPage struct {
	Form   *Form
	Key    string        // the log's verifier key, the default
	Result *verifyResult // the bundle checked, when it holds
}

type verifyResult struct {
	Seq        int64
	Checkpoint ledger.Checkpoint
	Root       string
	Filing     *ledger.Filing // the filing the bundle proves, as this exchange has it
	Matches    bool           // the bundle's entry is that filing's entry
}

func (c *Console) regulatorVerifyPage(q *Request) error {
	return q.Render(http.StatusOK, "regulator-verify", verifyPage{Form: NewForm(nil), Key: c.deps.Log.VerifierKey()})
}

// regulatorVerify checks a C2SP tlog-proof bundle pasted into the form — one a
// participant handed over, or one downloaded from a filing's page — against a
// verifier key (the log's by default), as `dataport verify` does offline. It
// changes nothing; a bundle that does not verify is answered at its input.
func (c *Console) regulatorVerify(q *Request) error {
	f := q.Form()
	d := verifyPage{Form: f, Key: c.deps.Log.VerifierKey()}
	key := f.Get("key")
	if key == "" {
		key = d.Key
	}
	bundle := strings.ReplaceAll(f.Values.Get("bundle"), "\r\n", "\n")
	if strings.TrimSpace(bundle) == "" {
		f.Fail("bundle", q.T("regulator.verify.error.empty"))
		return q.Render(http.StatusUnprocessableEntity, "regulator-verify", d)
	}
	b, cp, err := ledger.VerifyProofBundle([]byte(bundle), key, nil)
	if err != nil {
		input := "bundle"
		// OpenCheckpoint's words: the key is malformed, or did not sign the
		// bundle's checkpoint.
		if msg := err.Error(); strings.HasPrefix(msg, "verifier key") || strings.HasPrefix(msg, "checkpoint is not signed by") {
			input = "key"
		}
		f.Fail(input, q.T("regulator.verify.error.fails", err.Error()))
		return q.Render(http.StatusUnprocessableEntity, "regulator-verify", d)
	}
	r := &verifyResult{Seq: b.Index + 1, Checkpoint: cp, Root: hex.EncodeToString(cp.Root[:])}
	if fl, err := c.deps.Filings.Get(q.Context(), q.Actor, r.Seq); err == nil {
		r.Filing = &fl
		r.Matches = string(fl.Entry) == string(b.Extra)
	} else if dataport.KindOf(err) != dataport.KindNotFound {
		return err
	}
	d.Result = r
	return q.Render(http.StatusOK, "regulator-verify", d)
}
