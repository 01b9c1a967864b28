package web

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/catalog"
	"github.com/dataport/dataport/compliance"
	"github.com/dataport/dataport/harvest"
	"github.com/dataport/dataport/mirror"
	"github.com/dataport/dataport/registry"
)

// The operator's pages (交易所運營方): the day's queues on one overview, the review
// of submitted products with the compliance engine's assessment (R20, R22 and the
// rules the active pack holds), participants with their KYC, whitelist entry
// (R22), funding and suspension (叫停) with what it cascaded to, rule packs, agency
// contracts awaiting certification, approvals and their expiry (R16–R18), harvest
// sources and mirror upstreams.
//
// Every page acts as the signed-in operator through the same services as the API;
// they check the role again. The services let no assessor act on any of these
// (catalog review, registry changes and the rule engine's writes are the
// operator's), so the pages are the operator's alone.

// operatorRoles are the roles the operator's pages open to.
var operatorRoles = []dataport.Role{dataport.RoleOperator}

// operatorRoutes adds the operator's pages, under /operator.
func (c *Console) operatorRoutes() {
	page := func(pattern string, h func(*Request) error) { c.page(pattern, signedIn, h, operatorRoles...) }
	page("GET /operator", c.operatorHome)

	// The review queue and a product's review (operator_review.go).
	page("GET /operator/review", c.operatorReview)
	page("GET /operator/products/{id}", c.operatorProduct)
	page("POST /operator/products/{id}/start", c.operatorProductMove)
	page("POST /operator/products/{id}/approve", c.operatorProductMove)
	page("POST /operator/products/{id}/reject", c.operatorProductMove)
	page("POST /operator/products/{id}/suspend", c.operatorProductMove)
	page("POST /operator/products/{id}/resume", c.operatorProductMove)
	page("POST /operator/products/{id}/delist", c.operatorProductMove)

	// Participants (operator_participants.go).
	page("GET /operator/participants", c.operatorParticipants)
	page("POST /operator/participants", c.operatorCreateParticipant)
	page("GET /operator/participants/{id}", c.operatorParticipant)
	page("POST /operator/participants/{id}", c.operatorUpdateParticipant)
	page("POST /operator/participants/{id}/kyc", c.operatorKYC)
	page("POST /operator/participants/{id}/whitelist", c.operatorWhitelist)
	page("POST /operator/participants/{id}/whitelist/remove", c.operatorUnwhitelist)
	page("GET /operator/participants/{id}/suspend", c.operatorSuspendConfirm)
	page("POST /operator/participants/{id}/suspend", c.operatorSuspend)
	page("POST /operator/participants/{id}/resume", c.operatorResume)
	page("POST /operator/participants/{id}/fund", c.operatorFund)

	// Rule packs, agency contracts, approvals (operator_rules.go).
	page("GET /operator/packs", c.operatorPacks)
	page("POST /operator/packs", c.operatorUploadPack)
	page("GET /operator/packs/{version}", c.operatorPack)
	page("POST /operator/packs/{version}/activate", c.operatorActivatePack)
	page("GET /operator/contracts", c.operatorContracts)
	page("POST /operator/contracts/{id}/certify", c.operatorCertify)
	page("POST /operator/contracts/{id}/revoke", c.operatorRevokeContract)
	page("GET /operator/approvals", c.operatorApprovals)
	page("POST /operator/approvals", c.operatorRecordApproval)
	page("POST /operator/approvals/{id}/revoke", c.operatorRevokeApproval)

	// Harvest sources and mirror upstreams (operator_sources.go).
	page("GET /operator/harvest", c.operatorHarvest)
	page("POST /operator/harvest", c.operatorAddSource)
	page("POST /operator/harvest/{id}/run", c.operatorRunSource)
	page("GET /operator/mirror", c.operatorMirror)
	page("POST /operator/mirror", c.operatorRegisterUpstream)
	page("POST /operator/mirror/{name}/sync", c.operatorSyncUpstream)
	page("POST /operator/mirror/{name}/remove", c.operatorRemoveUpstream)
}

func init() {
	for set, values := range map[string][]string{
		"operator.kyc":      {"pending", "verified", "rejected"},
		"operator.pstatus":  {"active", "suspended"},
		"operator.kind":     {"domestic", "foreign"},
		"operator.pack":     {"uploaded", "active", "retired"},
		"operator.contract": {"proposed", "signed", "certified", "revoked"},
		"operator.run":      {"succeeded", "failed"},
		"operator.approval": compliance.ApprovalKinds,
		"operator.effect":   {"deny", "require", "exempt", "derive", "invalidate", "note"},
		"operator.source":   {harvest.KindAWSOpenData, harvest.KindCKAN, harvest.KindDCAT, harvest.KindFeed},
		// The filings a suspension cascades to, by type with "_" for "." (the
		// cascades of catalog and lending).
		"operator.cascade": opCascadeTypes,
	} {
		if _, ok := enums[set]; ok {
			panic("web: the enum set " + set + " exists")
		}
		enums[set] = values
	}
}

// opHome is the overview: what awaits the operator, each a count and a link.
type opHome struct {
	Queue       int
	QueueMore   bool
	Expiring    int
	Suspended   int
	KYCPending  int
	Contracts   int
	Failing     []harvest.Source // sources whose last run failed
	Sources     int
	ActivePack  *compliance.PackInfo
	Uploaded    int // packs uploaded, not active
	Upstreams   int
	Usage       opUsage
	SuspendedPs []registry.Participant
}

func (c *Console) operatorHome(q *Request) error {
	ctx, actor := q.Context(), q.Actor
	var d opHome
	queue, err := c.deps.Catalog.ReviewQueue(ctx, actor, "", 200)
	if err != nil {
		return err
	}
	d.Queue, d.QueueMore = len(queue.Items), queue.Next != ""
	due, err := c.deps.Compliance.ExpiryQueue(ctx, actor)
	if err != nil {
		return err
	}
	d.Expiring = len(due)
	if d.SuspendedPs, _, err = c.deps.Registry.ListParticipants(ctx, actor, registry.ListFilter{Status: registry.Suspended, Limit: 500}); err != nil {
		return err
	}
	d.Suspended = len(d.SuspendedPs)
	pending, _, err := c.deps.Registry.ListParticipants(ctx, actor, registry.ListFilter{KYCStatus: registry.KYCPending, Limit: 500})
	if err != nil {
		return err
	}
	d.KYCPending = len(pending)
	signed, err := c.deps.Compliance.ContractsInStatus(ctx, actor, "signed")
	if err != nil {
		return err
	}
	d.Contracts = len(signed)
	packs, err := c.deps.Compliance.Packs(ctx, actor)
	if err != nil {
		return err
	}
	for i := range packs {
		switch packs[i].Status {
		case "active":
			d.ActivePack = &packs[i]
		case "uploaded":
			d.Uploaded++
		}
	}
	if c.deps.Harvest != nil {
		sources, err := c.deps.Harvest.Sources(ctx, actor)
		if err != nil {
			return err
		}
		d.Sources = len(sources)
		for _, s := range sources {
			runs, err := c.deps.Harvest.Runs(ctx, actor, s.ID, 1)
			if err != nil {
				return err
			}
			if len(runs) > 0 && runs[0].Status == "failed" {
				d.Failing = append(d.Failing, s)
			}
		}
	}
	if c.deps.Mirror != nil {
		ups, err := c.deps.Mirror.Upstreams(ctx, actor)
		if err != nil {
			return err
		}
		d.Upstreams, d.Usage = len(ups), opUsageOf(c.deps.Mirror.Cache().Usage())
	}
	return opRender(q, http.StatusOK, "home", d)
}

// opRefused is an operator's move the services refused for the state things are in
// (a conflict: already listed, not under review) or for a rule (forbidden: the
// listing assessment denies, R22 refuses the agent): the page shows why in place,
// with the error's status, instead of leaving for the error page. Other errors are
// returned.
func opRefused(err error) (int, bool) {
	switch dataport.KindOf(err) {
	case dataport.KindConflict:
		return http.StatusConflict, true
	case dataport.KindForbidden:
		// Not a missing role: the console checked that before the handler ran.
		return http.StatusForbidden, true
	}
	return 0, false
}

// opFormList returns the non-empty lines of a textarea, or its comma-separated
// values.
func opFormList(s string) []string {
	var out []string
	for _, part := range strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == ',' }) {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// opFormLines returns the non-empty lines of a textarea.
func opFormLines(s string) []string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			out = append(out, line)
		}
	}
	return out
}

// opReviewState is where a product's latest revision is in review: its own status,
// or its pending change's.
func opReviewState(p catalog.Product) catalog.Status {
	if p.Change != nil {
		return p.Change.Status
	}
	return p.Status
}

// opPage is the operator page's data: the operator's pages share one template
// file (their navigation and the assessment's partial), which shows the page Name
// with its data P.
type opPage struct {
	Name string
	P    any
}

// opRender renders one of the operator's pages.
func opRender(q *Request, status int, name string, data any) error {
	return q.Render(status, "operator", opPage{Name: name, P: data})
}

// opUsage is the mirror cache's usage as the pages show it.
type opUsage struct {
	mirror.Usage
	Used  string // its bytes, in binary units
	Limit string // its cap, "" for none
}

func opUsageOf(u mirror.Usage) opUsage {
	out := opUsage{Usage: u, Used: opBytes(u.Bytes)}
	if u.MaxBytes > 0 {
		out.Limit = opBytes(u.MaxBytes)
	}
	return out
}

// opBytes shows a size in binary units: 1.5 MiB.
func opBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return strconv.FormatFloat(float64(n)/float64(div), 'f', 1, 64) + " " + string("KMGTPE"[exp]) + "iB"
}
