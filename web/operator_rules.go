package web

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/compliance"
	"github.com/dataport/dataport/registry"
)

// Rule packs (規則包), agency contracts (代理合同) and approvals on file.
//
// A pack is uploaded as a file or pasted; the engine compiles it and runs its own
// test cases, and refuses it, saying where (rule, line) and why, when either fails
// — the page shows that at the input, and lists every case with its result
// (compliance.PackCases), so the operator sees which case failed beside those that
// passed. A stored pack's page shows its cases' results and its source; activating
// it retires the one in force (filed).
//
// Agency contracts signed by both parties await the exchange's certification
// (R22); certifying re-checks the agent's whitelist entry and KYC. Approvals are
// recorded from the authority's document (security assessments, standard contract
// filings, certifications) with the evidence's hash, and the expiry queue lists
// those lapsing or not filed in time (R16, R17, R18).

// opPacksPage is the data of the operator's "packs" page.
type opPacksPage struct {
	Packs []compliance.PackInfo
	Form  *Form
	Cases []compliance.CaseResult // the cases of the pack just sent, opRefused or not
}

func (c *Console) operatorPacks(q *Request) error {
	return c.opPacksPage(q, http.StatusOK, NewForm(nil), nil)
}

func (c *Console) opPacksPage(q *Request, status int, form *Form, cases []compliance.CaseResult) error {
	packs, err := c.deps.Compliance.Packs(q.Context(), q.Actor)
	if err != nil {
		return err
	}
	return opRender(q, status, "packs", opPacksPage{Packs: packs, Form: form, Cases: cases})
}

// operatorUploadPack stores a pack (file or pasted source) and opens its page.
func (c *Console) operatorUploadPack(q *Request) error {
	form := NewForm(nil)
	src := []byte(q.FormValue("source"))
	form.Values.Set("source", string(src))
	if file, _, err := q.FormFile("file"); err == nil {
		defer file.Close()
		b, err := io.ReadAll(io.LimitReader(file, compliance.MaxPack+1))
		if err != nil {
			return dataport.Internal("web.operatorUploadPack", err)
		}
		if len(b) > 0 {
			src = b
			form.Values.Set("source", "") // a file is not pasted back into the textarea
		}
	} else if !errors.Is(err, http.ErrMissingFile) && !errors.Is(err, http.ErrNotMultipart) {
		return dataport.Invalid("web.operatorUploadPack", dataport.FieldProblem{Field: "file", Message: err.Error()})
	}
	if strings.TrimSpace(string(src)) == "" {
		form.Fail("source", q.T("operator.packs.error.empty"))
		return c.opPacksPage(q, http.StatusUnprocessableEntity, form, nil)
	}
	info, err := c.deps.Compliance.UploadPack(q.Context(), q.Actor, src)
	if dataport.KindOf(err) == dataport.KindInvalid {
		// Where and why, at the input; and every case's result when the rules compile.
		for _, p := range dataport.FieldsOf(err) {
			form.Fail("source", p.Message)
		}
		if len(dataport.FieldsOf(err)) == 0 {
			form.Fail("source", dataport.MessageOf(err))
		}
		cases, _ := compliance.PackCases(src)
		return c.opPacksPage(q, http.StatusUnprocessableEntity, form, cases)
	}
	if st, ok := opRefused(err); ok {
		form.Fail("source", dataport.MessageOf(err))
		return c.opPacksPage(q, st, form, nil)
	}
	if err != nil {
		return err
	}
	q.Redirect("/operator/packs/" + url.PathEscape(info.Version) + "?done=uploaded")
	return nil
}

// opPackPage is the data of the operator's "pack" page.
type opPackPage struct {
	Info    compliance.PackInfo
	Source  string
	Cases   []compliance.CaseResult
	Passed  int
	Done    string
	Refused string
}

func (c *Console) operatorPack(q *Request) error {
	return c.opPackPage(q, http.StatusOK, q.URL.Query().Get("done"), "")
}

func (c *Console) opPackPage(q *Request, status int, done, refusedWhy string) error {
	ctx, actor, version := q.Context(), q.Actor, q.PathValue("version")
	src, err := c.deps.Compliance.PackSource(ctx, actor, version)
	if err != nil {
		return err
	}
	packs, err := c.deps.Compliance.Packs(ctx, actor)
	if err != nil {
		return err
	}
	d := opPackPage{Source: string(src), Refused: refusedWhy}
	for _, p := range packs {
		if p.Version == version {
			d.Info = p
		}
	}
	if d.Cases, err = c.deps.Compliance.StoredPackCases(ctx, actor, version); err != nil {
		return err
	}
	for _, cs := range d.Cases {
		if cs.Passed {
			d.Passed++
		}
	}
	if done == "uploaded" || done == "activated" {
		d.Done = done
	}
	return opRender(q, status, "pack", d)
}

func (c *Console) operatorActivatePack(q *Request) error {
	version := q.PathValue("version")
	_, err := c.deps.Compliance.ActivatePack(q.Context(), q.Actor, version)
	if st, ok := opRefused(err); ok {
		return c.opPackPage(q, st, "", dataport.MessageOf(err))
	}
	if dataport.KindOf(err) == dataport.KindInvalid {
		return c.opPackPage(q, http.StatusUnprocessableEntity, "", dataport.MessageOf(err))
	}
	if err != nil {
		return err
	}
	q.Redirect("/operator/packs/" + url.PathEscape(version) + "?done=activated")
	return nil
}

// opContractsPage is the data of the operator's "contracts" page.
type opContractsPage struct {
	Signed    []compliance.AgencyContract // awaiting certification
	Certified []compliance.AgencyContract
	Names     func(string) string
	Done      string
	Refused   string
	Revoke    *Form
	RevokeID  string // the contract the revoke form's problems belong to
}

func (c *Console) operatorContracts(q *Request) error {
	return c.opContractsPage(q, http.StatusOK, opContractsPage{Done: q.URL.Query().Get("done")})
}

func (c *Console) opContractsPage(q *Request, status int, d opContractsPage) error {
	var err error
	if d.Signed, err = c.deps.Compliance.ContractsInStatus(q.Context(), q.Actor, "signed"); err != nil {
		return err
	}
	if d.Certified, err = c.deps.Compliance.ContractsInStatus(q.Context(), q.Actor, "certified"); err != nil {
		return err
	}
	if d.Revoke == nil {
		d.Revoke = NewForm(nil)
	}
	if d.Done != "certified" && d.Done != "revoked" {
		d.Done = ""
	}
	d.Names = c.participantNames(q)
	return opRender(q, status, "contracts", d)
}

func (c *Console) operatorCertify(q *Request) error {
	_, err := c.deps.Compliance.CertifyContract(q.Context(), q.Actor, q.PathValue("id"))
	return c.opContractMove(q, err, "certified", opContractsPage{})
}

func (c *Console) operatorRevokeContract(q *Request) error {
	f := q.Form()
	_, err := c.deps.Compliance.RevokeContract(q.Context(), q.Actor, q.PathValue("id"), f.Get("reason"))
	d := opContractsPage{Revoke: f, RevokeID: q.PathValue("id")}
	if f.Absorb(err, q.Localizer, Fields{"reason": {Input: "reason-" + q.PathValue("id"), Message: "operator.contracts.error.reason"}}) {
		return c.opContractsPage(q, http.StatusUnprocessableEntity, d)
	}
	return c.opContractMove(q, err, "revoked", d)
}

func (c *Console) opContractMove(q *Request, err error, done string, d opContractsPage) error {
	if st, ok := opRefused(err); ok {
		d.Refused = dataport.MessageOf(err)
		return c.opContractsPage(q, st, d)
	}
	if err != nil {
		return err
	}
	q.Redirect("/operator/contracts?done=" + done)
	return nil
}

// opApprovalsPage is the data of the operator's "approvals" page.
type opApprovalsPage struct {
	Due       []compliance.Due
	Exporter  *registry.Participant // the exporter whose approvals are listed
	Approvals []compliance.RecordedApproval
	YTD       *compliance.Counters
	Exporters []registry.Participant // suppliers, to choose from
	Form      *Form
	Kinds     []string
	Names     func(string) string
	Done      string
	Refused   string
}

func (c *Console) operatorApprovals(q *Request) error {
	f := NewForm(nil)
	f.Values.Set("exporter_id", q.URL.Query().Get("exporter"))
	return c.opApprovalsPage(q, http.StatusOK, f, "")
}

func (c *Console) opApprovalsPage(q *Request, status int, form *Form, refusedWhy string) error {
	ctx, actor := q.Context(), q.Actor
	d := opApprovalsPage{Form: form, Kinds: compliance.ApprovalKinds, Names: c.participantNames(q), Refused: refusedWhy}
	if done := q.URL.Query().Get("done"); done == "recorded" || done == "revoked" {
		d.Done = done
	}
	var err error
	if d.Due, err = c.deps.Compliance.ExpiryQueue(ctx, actor); err != nil {
		return err
	}
	if d.Exporters, _, err = c.deps.Registry.ListParticipants(ctx, actor, registry.ListFilter{Role: dataport.RoleSupplier, Limit: 500}); err != nil {
		return err
	}
	if id := q.URL.Query().Get("exporter"); id != "" {
		p, err := c.deps.Registry.GetParticipant(ctx, actor, id)
		if err != nil {
			return err
		}
		d.Exporter = &p
		if d.Approvals, err = c.deps.Compliance.Approvals(ctx, actor, id); err != nil {
			return err
		}
		ytd, err := c.deps.Compliance.YearToDate(ctx, actor, id)
		if err != nil {
			return err
		}
		d.YTD = &ytd
	}
	return opRender(q, status, "approvals", d)
}

// opApprovalFields binds the engine's field problems to the approval form.
var opApprovalFields = Fields{
	"kind": {Input: "kind"}, "reference": {Input: "reference"}, "exporter_id": {Input: "exporter_id"},
	"issued_on": {Input: "issued_on"}, "effective_on": {Input: "effective_on"}, "filed_on": {Input: "filed_on"},
	"valid_until": {Input: "valid_until"}, "extended": {Input: "extended"}, "evidence_sha256": {Input: "evidence_sha256"},
	"recipients": {Input: "recipients"}, "categories": {Input: "categories"},
}

func (c *Console) operatorRecordApproval(q *Request) error {
	f := q.Form()
	a := compliance.Approval{Kind: f.Get("kind"), Reference: f.Get("reference"), ExporterID: f.Get("exporter_id"),
		Recipients: opFormList(f.Get("recipients")), Categories: opFormList(f.Get("categories")), IssuedOn: f.Get("issued_on"),
		EffectiveOn: f.Get("effective_on"), FiledOn: f.Get("filed_on"), ValidUntil: f.Get("valid_until"),
		Extended: f.Get("extended") == "on", EvidenceSHA256: strings.ToLower(f.Get("evidence_sha256"))}
	_, err := c.deps.Compliance.RecordApproval(q.Context(), q.Actor, a)
	if f.Absorb(err, q.Localizer, opApprovalFields) {
		return c.opApprovalsPage(q, http.StatusUnprocessableEntity, f, "")
	}
	if st, ok := opRefused(err); ok {
		return c.opApprovalsPage(q, st, f, dataport.MessageOf(err))
	}
	if err != nil {
		return err
	}
	q.Redirect("/operator/approvals?done=recorded&exporter=" + url.QueryEscape(a.ExporterID))
	return nil
}

func (c *Console) operatorRevokeApproval(q *Request) error {
	f := q.Form()
	ra, err := c.deps.Compliance.RevokeApproval(q.Context(), q.Actor, q.PathValue("id"), f.Get("reason"))
	if dataport.KindOf(err) == dataport.KindInvalid {
		return c.opApprovalsPage(q, http.StatusUnprocessableEntity, NewForm(nil), dataport.MessageOf(err))
	}
	if st, ok := opRefused(err); ok {
		return c.opApprovalsPage(q, st, NewForm(nil), dataport.MessageOf(err))
	}
	if err != nil {
		return err
	}
	q.Redirect("/operator/approvals?done=revoked&exporter=" + url.QueryEscape(ra.ExporterID))
	return nil
}
