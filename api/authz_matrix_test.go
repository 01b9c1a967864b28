package api_test

import (
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/danielgtaylor/huma/v2"
	"github.com/dataport/dataport"
	"github.com/dataport/dataport/api"
	"github.com/dataport/dataport/dsp"
	"github.com/dataport/dataport/store"
	"github.com/dataport/dataport/trade"
)

// authzRow is what the matrix expects of one route: who may call it, and how to
// fill its path for a caller's own tenant and for another's.
//
// An allowed call must not be refused (401, 403 or 404) and must not fail (5xx): a
// 409 or 422 is allowed, it is the service speaking past its authorisation. A refused
// call must be refused. Every participant is called on its own tenant's records and
// on another's; a suspended participant on its own (叫停: it may still read its own
// records, but every change is refused, before any handler, api/auth.go); and
// anonymous callers once.
type authzRow struct {
	op    string // the operationId, or "METHOD pattern" for a plain route
	args  []arg  // fill the path's parameters, in order
	query func(*call) string
	body  func(*call) any // nil: made from the operation's schema (sample)
	raw   string          // a raw body, of rawType
	// rawBody makes a raw body, of rawType, for the call.
	rawBody func(*call) string
	// rawType is the raw body's media type.
	rawType string
	headers []string // name, value, …

	public bool            // anyone, without a key
	any    []dataport.Role // these roles, whatever tenant the records are of
	own    []dataport.Role // these roles, on their own tenant's records only
	// suspendedChanges: a suspended participant's call is not refused at once, as
	// the protocol's own endpoints authenticate themselves (dspFirst).
	suspendedChanges bool
	// suspendedRefused: a suspended participant's reads are refused too.
	suspendedRefused bool
	// refusal: statuses that refuse here besides 401, 403 and 404 (say why).
	refusal []int
	// absent: the path names a record the matrix does not build; an allowed caller
	// is told 404, and only refusals that are not 404 tell the two apart.
	absent bool
}

var (
	operator  = dataport.RoleOperator
	supplier  = dataport.RoleSupplier
	agent     = dataport.RoleAgent
	buyer     = dataport.RoleBuyer
	assessor  = dataport.RoleAssessor
	bank      = dataport.RoleFinancialInstitution
	merchant  = dataport.RoleMerchant
	regulator = dataport.RoleRegulator
	every     = dataport.Roles
)

func roles(r ...dataport.Role) []dataport.Role { return r }

func args(a ...arg) []arg { return a }

// watchers read everything: the operator and the regulators.
var watchers = roles(operator, regulator)

// lenders are the roles lending serves: "lending is for merchants, financial
// institutions, the operator and regulators".
var lenders = roles(operator, regulator, merchant, bank)

// authzRows is the matrix: one row per route of the server.
var authzRows = []authzRow{
	// Operations and documents: public.
	{op: "GET /metrics", public: true},
	{op: "GET /{$}", public: true},
	{op: "GET /docs", public: true},
	{op: "GET /docs/", public: true},
	{op: "GET /openapi.json", public: true},
	{op: "GET /openapi.yaml", public: true},
	{op: "GET /openapi-3.0.json", public: true},
	{op: "GET /openapi-3.0.yaml", public: true},
	{op: "healthz", public: true},
	{op: "readyz", public: true},
	{op: "version", public: true},
	{op: "get-me", any: every},

	// Registry.
	{op: "create-participant", body: participantBody, any: roles(operator)},
	{op: "list-participants", any: every},
	{op: "get-participant", args: args(self), any: watchers, own: every},
	{op: "update-participant", args: args(selfOrFresh), any: roles(operator), own: every},
	{op: "review-kyc", args: args(selfOrFresh), any: roles(operator)},
	{op: "set-whitelist", args: args(selfOrFresh), any: roles(operator)},
	{op: "remove-whitelist", args: args(selfOrFresh), any: roles(operator)},
	{op: "suspend-participant", args: args(selfOrFresh), any: roles(operator)},
	{op: "resume-participant", args: args(selfOrFresh), any: roles(operator)},
	{op: "create-api-key", args: args(self), any: roles(operator), own: every},
	{op: "list-api-keys", args: args(self), any: roles(operator), own: every},
	{op: "revoke-api-key", args: args(self, freshAPIKey), any: roles(operator), own: every},
	{op: "add-signing-key", args: args(self), any: roles(operator), own: every},
	// README: any participant may read public keys.
	{op: "list-signing-keys", args: args(self), any: every},
	{op: "revoke-signing-key", args: args(self, freshSigningKey), any: roles(operator), own: every},
	{op: "create-s3-key", args: args(self), any: roles(operator), own: every},
	{op: "list-s3-keys", args: args(self), any: roles(operator), own: every},
	{op: "revoke-s3-key", args: args(self, freshS3Key), any: roles(operator), own: every},

	// Catalog.
	{op: "create-product", body: productBody, own: roles(supplier)},
	{op: "search-products", any: every},
	// A listed product: its parties and the operator read it in any state, anyone
	// with a key while it is listed.
	{op: "get-product", args: args(product), any: every},
	{op: "revise-product", args: args(freshProduct), own: roles(supplier)},
	{op: "product-certificate", args: args(product), any: every},
	// Every revision, drafts and pending changes too: its parties, the operator and
	// regulators (others read the listed revision through get-product).
	{op: "product-revisions", args: args(product), any: watchers, own: roles(supplier)},
	{op: "submit-product", args: args(draftProduct), own: roles(supplier)},
	{op: "review-product", args: args(freshProduct), any: roles(operator)},
	{op: "approve-product", args: args(freshProduct), any: roles(operator)},
	{op: "reject-product", args: args(freshProduct), any: roles(operator)},
	{op: "suspend-product", args: args(freshProduct), any: roles(operator)},
	{op: "resume-product", args: args(freshProduct), any: roles(operator)},
	{op: "delist-product", args: args(freshProduct), any: roles(operator), own: roles(supplier)},
	{op: "review-queue", any: watchers},
	{op: "participant-products", args: args(self), any: watchers, own: every},
	// Suppliers and agents document products; the operator files the evidence of
	// approvals (catalog.UploadAttachment).
	{op: "upload-attachment", query: func(*call) string { return "name=report.pdf" }, raw: "%PDF report", rawType: "application/pdf",
		any: roles(operator, supplier, agent)},
	{op: "list-attachments", any: every},
	{op: "product-attachment", args: args(product, attachment), any: every},
	{op: "post-demand", any: roles(buyer)},
	{op: "demand-matches", args: args(demand), any: roles(operator), own: roles(buyer)},
	// Quotes by the product's supplier: the tenant's supplier quotes its product
	// for the tenant's demand (the caller's own product, on its own side).
	// A quote names a product of the caller's; for anyone else the product is a field
	// problem (400 "no such product of yours"), a refusal.
	{op: "make-quote", args: args(demand), body: quoteBody, own: roles(supplier), refusal: []int{http.StatusBadRequest}},
	{op: "demand-quotes", args: args(demand), any: roles(operator), own: roles(buyer, supplier)},
	{op: "decline-quote", args: args(quote), own: roles(buyer)},
	{op: "accept-quote", args: args(quote), own: roles(buyer)},
	{op: "close-demand", args: args(demand), own: roles(buyer)},
	{op: "GET /catalog.jsonld", public: true},

	// Compliance.
	{op: "assess", body: assessBody, any: every},
	{op: "list-rule-packs", any: every},
	{op: "upload-rule-pack", raw: "version: x\n", rawType: "application/yaml", any: roles(operator)},
	{op: "rule-pack-source", args: args(packVersion), any: every},
	{op: "activate-rule-pack", args: args(packVersion), any: roles(operator)},
	// An exporter records its own declarations; the operator any.
	{op: "record-approval", body: approvalBody, any: roles(operator), own: every},
	{op: "revoke-approval", args: args(missing("apv")), any: roles(operator), absent: true},
	{op: "participant-approvals", args: args(self), any: watchers, own: every},
	{op: "expiry-queue", any: watchers},
	{op: "pi-counters", args: args(self), any: watchers, own: every},
	// Between a foreign supplier and the tenant's agent: proposed by a party (the agent
	// here; the foreign supplier is not a caller of the matrix).
	{op: "propose-agency-contract", body: contractBody, any: roles(operator), own: roles(agent)},
	{op: "get-agency-contract", args: args(missing("agc")), any: watchers, absent: true},
	{op: "sign-agency-contract", args: args(missing("agc")), any: roles(supplier, agent), absent: true},
	{op: "certify-agency-contract", args: args(missing("agc")), any: roles(operator), absent: true},
	{op: "revoke-agency-contract", args: args(missing("agc")), any: roles(operator, supplier, agent), absent: true},
	{op: "participant-agency-contracts", args: args(self), any: watchers, own: every},
	{op: "product-assessment", args: args(product), any: watchers, own: roles(supplier)},

	// Trade: the tenant's deal is between its buyer and its supplier.
	{op: "request-deal", body: dealBody, any: roles(buyer)},
	{op: "get-deal", args: args(deal), any: watchers, own: roles(buyer, supplier)},
	// Each move is made on a new deal in the state it moves from, so that the
	// state never answers for the authorisation (409 before 403).
	{op: "offer-deal", args: args(dealIn(trade.Requested)), body: priceBody, own: roles(supplier)},
	{op: "counter-request-deal", args: args(dealIn(trade.Offered)), body: priceBody, own: roles(buyer)},
	{op: "accept-deal", args: args(dealIn(trade.Offered)), own: roles(buyer)},
	{op: "deal-contract", args: args(deal), any: watchers, own: roles(buyer, supplier)},
	{op: "agree-deal", args: args(dealIn(trade.Accepted)), own: roles(supplier)},
	{op: "verify-deal", args: args(dealIn(trade.Agreed)), own: roles(buyer)},
	{op: "finalize-deal", args: args(dealIn(trade.Verified)), own: roles(supplier)},
	{op: "terminate-deal", args: args(dealIn(trade.Requested)), own: roles(buyer, supplier)},
	// The finalised deal: delivered, then confirmed, then certified.
	// The entitlement is paused while its buyer is suspended (README: a deal waits
	// while any of its parties is suspended): no manifest, no download.
	{op: "deal-manifest", args: args(finalDeal), own: roles(buyer), suspendedRefused: true},
	{op: "download", args: args(finalDeal), query: func(*call) string { return "path=data/a.csv" }, own: roles(buyer), suspendedRefused: true},
	{op: "make-download-link", args: args(finalDeal), body: func(*call) any { return map[string]any{"path": "data/a.csv"} }, own: roles(buyer)},
	{op: "deal-deliveries", args: args(finalDeal), any: watchers, own: roles(buyer, supplier)},
	{op: "deal-dsp-transfers", args: args(finalDeal), any: watchers, own: roles(buyer, supplier)},
	{op: "confirm-delivery", args: args(finalDeal), own: roles(buyer)},
	{op: "deal-certificate", args: args(doneDeal), any: watchers, own: roles(buyer, supplier)},
	{op: "fund-balance", args: args(self), any: roles(operator)},
	{op: "entitlements", args: args(self), any: watchers, own: every},
	{op: "balances", args: args(self), any: watchers, own: every},

	// Delivery: the tenant's product's listed revision, and an upload to it.
	{op: "start-upload", args: args(product, revision), own: roles(supplier)},
	// Uploads: their maker, and the operator (delivery: "the operator: any").
	{op: "get-upload", args: args(upload), any: roles(operator), own: roles(supplier)},
	{op: "write-upload-chunk", args: args(upload), raw: "x", rawType: "application/octet-stream", headers: []string{"Upload-Offset", "0"},
		any: roles(operator), own: roles(supplier)},
	{op: "abort-upload", args: args(upload), any: roles(operator), own: roles(supplier)},
	{op: "put-file", args: args(product, revision), query: func(*call) string { return "path=data/b.csv" },
		raw: "a,b\n", rawType: "application/octet-stream", own: roles(supplier)},
	{op: "list-files", args: args(product, revision), any: watchers, own: roles(supplier)},
	{op: "seal-manifest", args: args(product, revision), own: roles(supplier)},
	// The sealed manifest: anyone with a key while the product is listed.
	{op: "get-manifest", args: args(product, revision), any: every},

	// DSP transfers, the exchange the provider: no transfer is built.
	{op: "get-dsp-transfer", args: args(missing("tp")), any: watchers, absent: true},
	{op: "start-dsp-transfer", args: args(missing("tp")), any: roles(supplier, agent), absent: true},
	{op: "suspend-dsp-transfer", args: args(missing("tp")), any: roles(supplier, agent), absent: true},
	{op: "complete-dsp-transfer", args: args(missing("tp")), any: roles(supplier, agent), absent: true},
	{op: "terminate-dsp-transfer", args: args(missing("tp")), any: roles(supplier, agent), absent: true},

	// The mirror.
	{op: "register-upstream", body: upstreamBody, any: roles(operator)},
	{op: "list-upstreams", any: watchers},
	{op: "remove-upstream", args: args(fixed("nowhere")), any: roles(operator), absent: true},
	{op: "sync-upstream", args: args(fixed("nowhere")), any: roles(operator), absent: true},

	// Harvest.
	{op: "add-harvest-source", body: sourceBody, any: roles(operator)},
	{op: "list-harvest-sources", any: watchers},
	{op: "get-harvest-source", args: args(missing("hsrc")), any: watchers, absent: true},
	{op: "run-harvest", args: args(missing("hsrc")), any: roles(operator), absent: true},
	{op: "list-harvest-runs", args: args(missing("hsrc")), any: watchers, absent: true},

	// Notifications: a caller's own webhooks.
	{op: "inbox", any: every},
	{op: "register-webhook", body: func(*call) any { return map[string]any{"url": "https://hooks.example.com/new"} }, any: every},
	{op: "list-webhooks", any: every},
	// A participant's own webhooks; the operator any (notify: "the operator: any").
	{op: "rotate-webhook-key", args: args(webhook), any: roles(operator), own: every},
	{op: "enable-webhook", args: args(webhook), any: roles(operator), own: every},
	{op: "webhook-deliveries", args: args(webhook), any: roles(operator), own: every},
	{op: "redeliver", args: args(webhook, missing("dlv")), any: roles(operator), own: every, absent: true},
	{op: "delete-webhook", args: args(freshWebhook), any: roles(operator), own: every},

	// Ledger and the log.
	{op: "list-filings", any: every},
	{op: "get-filing", args: args(filing), any: watchers, own: roles(supplier)},
	{op: "trace", query: func(c *call) string { return "subject=" + self(c) }, any: watchers, own: every},
	{op: "log-consistency", query: func(*call) string { return "from=1&to=1" }, any: every},
	{op: "GET /log/checkpoint", public: true},
	{op: "GET /log/tile/{path...}", args: args(fixed("0/000")), public: true},
	{op: "POST /log/cosignature", public: true},
	{op: "list-denials", any: watchers},

	// Finance: the tenant's merchant's data.
	{op: "connect-shop", args: args(member(merchant)), any: roles(operator), own: roles(merchant)},
	{op: "list-shops", args: args(member(merchant)), any: roles(operator), own: roles(merchant)},
	{op: "ingest-batch", args: args(member(merchant)), raw: "order_id\n", rawType: "text/csv", any: roles(operator), own: roles(merchant)},
	{op: "list-batches", args: args(member(merchant)), any: roles(operator), own: roles(merchant)},
	{op: "stream-orders", args: args(member(merchant)), raw: "\n", rawType: "application/x-ndjson", any: roles(operator), own: roles(merchant)},
	{op: "merchant-features", args: args(member(merchant)), any: roles(operator), own: roles(merchant)},
	{op: "merchant-daily", args: args(member(merchant)), any: roles(operator), own: roles(merchant)},
	{op: "set-live-limit-policy", args: args(member(merchant)), any: roles(operator)},
	{op: "live-limit", args: args(member(merchant)), any: watchers, own: roles(merchant)},
	{op: "live-limit-history", args: args(member(merchant)), any: watchers, own: roles(merchant)},

	// Credit.
	{op: "decide", args: args(member(merchant)), any: roles(operator), own: roles(merchant)},
	{op: "list-decisions", args: args(member(merchant)), any: watchers, own: roles(merchant)},
	// No decision is made: the latest is 404 to those who may read it.
	{op: "latest-decision", args: args(member(merchant)), any: watchers, own: roles(merchant), absent: true},
	{op: "get-decision", args: args(missing("dec")), any: watchers, absent: true},
	{op: "credit-model", any: every},
	// The merchant itself, holding the supplier role too: a merchant without it is
	// refused (403), as everyone else.
	{op: "list-merchant-data", args: args(member(merchant)), body: merchantDataBody},

	// Lending: the tenant's merchant's consent names its institution, whose
	// subscription it is.
	{op: "grant-consent", args: args(member(merchant)), own: roles(merchant)},
	{op: "list-consents", any: lenders},
	{op: "get-consent", args: args(consent), any: watchers, own: roles(merchant, bank)},
	{op: "create-subscription", any: roles(bank)},
	{op: "list-subscriptions", any: roles(operator, regulator, bank)},
	{op: "get-subscription", args: args(subscription), any: watchers, own: roles(bank)},
	{op: "set-subscription-rules", args: args(subscription), own: roles(bank)},
	{op: "pause-subscription", args: args(subscription), any: roles(operator), own: roles(bank)},
	{op: "resume-subscription", args: args(subscription), any: roles(operator), own: roles(bank)},
	{op: "cancel-subscription", args: args(subscription), any: roles(operator), own: roles(bank)},
	{op: "revoke-consent", args: args(consent), own: roles(merchant)},
	{op: "list-offers", any: lenders},
	{op: "get-offer", args: args(missing("ofr")), any: watchers, absent: true},
	{op: "create-application", args: args(missing("ofr")), any: roles(merchant), absent: true},
	{op: "list-applications", any: lenders},
	{op: "get-application", args: args(missing("app")), any: watchers, absent: true},
	{op: "list-loans", any: lenders},
	{op: "get-loan", args: args(missing("loan")), any: watchers, absent: true},
	{op: "loan-repayments", args: args(missing("loan")), any: watchers, absent: true},
	{op: "institution-portfolio", args: args(member(bank)), any: watchers, own: roles(bank)},

	// DSP peers and the exchange as consumer: no peer, negotiation or transfer is built.
	{op: "register-dsp-peer", any: roles(operator)},
	{op: "list-dsp-peers", any: roles(operator)},
	{op: "get-dsp-peer", args: args(missing("prt")), any: roles(operator), absent: true},
	{op: "remove-dsp-peer", args: args(missing("prt")), any: roles(operator), absent: true},
	{op: "dsp-peer-catalog", args: args(missing("prt")), any: roles(buyer), absent: true},
	{op: "request-consumer-negotiation", any: roles(buyer)},
	{op: "list-consumer-negotiations", any: every},
	{op: "get-consumer-negotiation", args: args(missing("cn")), any: watchers, absent: true},
	{op: "accept-consumer-negotiation", args: args(missing("cn")), any: roles(buyer), absent: true},
	{op: "counter-consumer-negotiation", args: args(missing("cn")), body: consumerOfferBody, any: roles(buyer), absent: true},
	{op: "verify-consumer-negotiation", args: args(missing("cn")), any: roles(buyer), absent: true},
	{op: "terminate-consumer-negotiation", args: args(missing("cn")), any: roles(buyer), absent: true},
	{op: "request-consumer-transfer", any: roles(buyer), absent: true},
	{op: "list-consumer-transfers", any: every},
	{op: "get-consumer-transfer", args: args(missing("ct")), any: watchers, absent: true},
	{op: "suspend-consumer-transfer", args: args(missing("ct")), any: roles(buyer), absent: true},
	{op: "start-consumer-transfer", args: args(missing("ct")), any: roles(buyer), absent: true},
	{op: "complete-consumer-transfer", args: args(missing("ct")), any: roles(buyer), absent: true},
	{op: "terminate-consumer-transfer", args: args(missing("ct")), any: roles(buyer), absent: true},
	{op: "GET /api/v1/dsp/consumer/transfers/{id}/files/{path...}", args: args(missing("ct"), fixed("a.csv")), any: roles(buyer), absent: true},

	// The Dataspace Protocol's own endpoints (api/dsp.go).
	{op: "GET /.well-known/dspace-version", public: true},
	// The catalog request is a query: a suspended participant still makes it.
	{op: "POST /dsp/catalog/request", raw: catalogRequest, rawType: "application/json", any: every, suspendedChanges: true},
	{op: "GET /dsp/catalog/datasets/{id}", args: args(product), any: every},
	{op: "POST /dsp/negotiations/request", rawBody: contractRequest, rawType: "application/json", any: roles(buyer)},
	{op: "GET /dsp/negotiations/{providerPid}", args: args(missing("cn")), any: every, absent: true},
	{op: "POST /dsp/negotiations/{providerPid}/request", args: args(missing("cn")), any: every, absent: true},
	{op: "POST /dsp/negotiations/{providerPid}/events", args: args(missing("cn")), any: every, absent: true},
	{op: "POST /dsp/negotiations/{providerPid}/agreement/verification", args: args(missing("cn")), any: every, absent: true},
	{op: "POST /dsp/negotiations/{providerPid}/termination", args: args(missing("cn")), any: every, absent: true},
	// A transfer of the caller's own finalised deal.
	{op: "POST /dsp/transfers/request", rawBody: transferRequest, rawType: "application/json", own: roles(buyer),
		// Another's agreement is answered as an unknown one: 400 INVALID_MESSAGE at
		// agreementId, "no agreement … of yours".
		refusal: []int{http.StatusBadRequest}},
	{op: "GET /dsp/transfers/{providerPid}", args: args(missing("tp")), any: every, absent: true},
	{op: "POST /dsp/transfers/{providerPid}/start", args: args(missing("tp")), any: every, absent: true},
	{op: "POST /dsp/transfers/{providerPid}/completion", args: args(missing("tp")), any: every, absent: true},
	{op: "POST /dsp/transfers/{providerPid}/suspension", args: args(missing("tp")), any: every, absent: true},
	{op: "POST /dsp/transfers/{providerPid}/termination", args: args(missing("tp")), any: every, absent: true},
	{op: "GET /dsp/data/{providerPid}", args: args(missing("tp")), absent: true},
	{op: "GET /dsp/data/{providerPid}/{path...}", args: args(missing("tp"), fixed("a.csv")), absent: true},
	{op: "GET /dsp/callback/negotiations/{consumerPid}", args: args(missing("cn")), any: every, absent: true},
	// A provider-initiated negotiation is refused to everyone: 400, a
	// ContractNegotiationError (dsp.ConsumerService.ServeInitialOffer).
	{op: "POST /dsp/callback/negotiations/offers", raw: "{}", rawType: "application/json", refusal: []int{http.StatusBadRequest}},
	{op: "POST /dsp/callback/negotiations/{consumerPid}/offers", args: args(missing("cn")), any: every, absent: true},
	{op: "POST /dsp/callback/negotiations/{consumerPid}/agreement", args: args(missing("cn")), any: every, absent: true},
	{op: "POST /dsp/callback/negotiations/{consumerPid}/events", args: args(missing("cn")), any: every, absent: true},
	{op: "POST /dsp/callback/negotiations/{consumerPid}/termination", args: args(missing("cn")), any: every, absent: true},
	{op: "POST /dsp/callback/transfers/{consumerPid}/start", args: args(missing("ct")), any: every, absent: true},
	{op: "POST /dsp/callback/transfers/{consumerPid}/completion", args: args(missing("ct")), any: every, absent: true},
	{op: "POST /dsp/callback/transfers/{consumerPid}/suspension", args: args(missing("ct")), any: every, absent: true},
	{op: "POST /dsp/callback/transfers/{consumerPid}/termination", args: args(missing("ct")), any: every, absent: true},
}

func quoteBody(c *call) any {
	return map[string]any{"product_id": c.g.product.ID, "price": map[string]any{"amount": 900_000, "currency": "CNY"}}
}

func priceBody(*call) any { return map[string]any{"price": 900_000} }

func productBody(c *call) any {
	return c.sampled(map[string]any{"supplier_id": c.g.of(supplier).id, "details": map[string]any{"type": "dataset",
		"title": map[string]any{"zh": "运价"}, "category": "shipping", "source": "enterprise", "grade": "general", "sublevel": 1,
		"origin_jurisdiction": "CN", "scenarios": []string{"research"}, "delivery_modes": []string{"file"}}})
}

func participantBody(c *call) any {
	c.x.seq++
	return map[string]any{"legal_name": map[string]any{"zh": "新数商有限公司"}, "jurisdiction": "CN", "kind": "domestic",
		"uscc": mustUSCC(fmt.Sprintf("91310115%09d", 500000+c.x.seq)), "roles": []string{"buyer"}}
}

func assessBody(c *call) any {
	return map[string]any{"reference": map[string]any{"product_id": c.x.own.product.ID, "recipient_id": c.x.own.of(buyer).id,
		"purpose": "academic", "delivery_mode": "file"}}
}

func approvalBody(c *call) any {
	return map[string]any{"kind": "pipia_report", "reference": "PIPIA-1", "exporter_id": c.g.of(c.role).id,
		"issued_on": "2026-01-05", "evidence_sha256": c.x.reportSHA256}
}

func contractBody(c *call) any {
	return c.sampled(map[string]any{"supplier_id": c.g.foreign, "agent_id": c.g.of(agent).id, "categories": []string{"shipping"}})
}

func upstreamBody(*call) any {
	return map[string]any{"name": "open-data", "endpoint": "s3.example.com", "bucket": "open-data"}
}

func sourceBody(c *call) any {
	return map[string]any{"name": "portal", "kind": "dcat", "location": "https://portal.example/", "supplier_id": c.x.own.of(supplier).id,
		"settings": map[string]any{"category": "shipping", "scenarios": []string{"research"}, "compliance_report": c.x.reportSHA256}}
}

func merchantDataBody(*call) any {
	return map[string]any{"kind": "orders", "consent": true, "purpose": "research", "scenarios": []string{"research"}}
}

// catalogOffer is the first offer of the own tenant's product in the DSP catalog,
// narrowed to a purpose as a consumer's request narrows it.
func catalogOffer(c *call) dsp.Policy {
	r := c.x.do("GET", "/dsp/catalog/datasets/"+dsp.ProductIRI(c.x.own.product.ID), c.x.own.of(buyer).key, nil)
	var ds dsp.Dataset
	must(c.x.t, dsp.Decode(r.body, &ds))
	offer := ds.HasPolicy[0]
	offer.Target = ds.ID
	offer.Permission[0].Constraint[0] = dsp.Constraint{LeftOperand: "odrl:purpose", Operator: "eq", RightOperand: "research"}
	return offer
}

func consumerOfferBody(c *call) any { return map[string]any{"offer": catalogOffer(c)} }

// contractRequest is a DSP Contract Request Message for the tenant's product's
// first offer, as its catalog gives it.
func contractRequest(c *call) string {
	b, err := dsp.Encode(&dsp.ContractRequestMessage{ConsumerPID: "urn:uuid:" + dataport.NewID("cn"), Offer: catalogOffer(c),
		CallbackAddress: "https://consumer.example/cb"})
	must(c.x.t, err)
	return string(b)
}

// transferRequest is a DSP Transfer Request Message for the tenant's finalised deal.
func transferRequest(c *call) string {
	b, err := dsp.Encode(&dsp.TransferRequestMessage{ConsumerPID: "urn:uuid:" + dataport.NewID("tp"),
		AgreementID: dsp.DealIRIPrefix + c.g.finalDeal, Format: dsp.FormatPull, CallbackAddress: "https://consumer.example/cb"})
	must(c.x.t, err)
	return string(b)
}

func dealBody(c *call) any {
	return map[string]any{"product_id": c.g.product.ID, "plan": 0, "scenario": "research", "purpose": "academic", "delivery_mode": "file"}
}

// humaDocuments are the OpenAPI documents huma serves itself, outside the document
// and the package's mux calls.
var humaDocuments = []string{"GET /openapi.json", "GET /openapi.yaml", "GET /openapi-3.0.json", "GET /openapi-3.0.yaml"}

// coverage names the routes no row covers, and the rows that name no route.
func coverage(routes []route, rows []authzRow) (uncovered, stale, twice []string) {
	have := map[string]int{}
	for _, r := range rows {
		have[r.op]++
		if have[r.op] == 2 {
			twice = append(twice, r.op)
		}
	}
	known := map[string]bool{}
	for _, rt := range routes {
		known[rt.id] = true
		if have[rt.id] == 0 {
			uncovered = append(uncovered, rt.id)
		}
	}
	for _, r := range rows {
		if !known[r.op] {
			stale = append(stale, r.op)
		}
	}
	sort.Strings(stale)
	return uncovered, stale, twice
}

// matrixRoutes is every route of the server, huma's own documents included.
func matrixRoutes(t *testing.T, s *api.Server) []route {
	rs := serverRoutes(t, s)
	for _, d := range humaDocuments {
		method, path, _ := strings.Cut(d, " ")
		rs = append(rs, route{id: d, method: method, path: path})
	}
	return rs
}

// A route added without a row fails the matrix, naming the route; so does a row
// whose route is gone.
func TestAuthorizationMatrixCoversEveryRoute(t *testing.T) {
	routes := matrixRoutes(t, newExchange(t, store.SQLite).server)
	uncovered, stale, twice := coverage(routes, authzRows)
	for _, id := range uncovered {
		t.Errorf("route %s has no row in the authorisation matrix (authzRows): say who may call it", id)
	}
	for _, id := range stale {
		t.Errorf("the authorisation matrix has a row for %s, which the server no longer serves", id)
	}
	for _, id := range twice {
		t.Errorf("the authorisation matrix has two rows for %s", id)
	}
	// The check itself: a row taken away is a route uncovered, a row for a route
	// that is not there is stale.
	dropped := slices.DeleteFunc(slices.Clone(authzRows), func(r authzRow) bool { return r.op == "get-deal" })
	if u, _, _ := coverage(routes, dropped); !slices.Equal(u, []string{"get-deal"}) {
		t.Errorf("without get-deal's row, the uncovered routes are %v", u)
	}
	extra := append(slices.Clone(authzRows), authzRow{op: "no-such-operation"})
	if _, s, _ := coverage(routes, extra); !slices.Equal(s, []string{"no-such-operation"}) {
		t.Errorf("with a row for no route, the stale rows are %v", s)
	}
	// The plain routes are found in the source, DSP, log and consumer files' too.
	for _, want := range []string{"GET /metrics", "GET /log/checkpoint", "POST /dsp/catalog/request",
		"POST /dsp/callback/transfers/{consumerPid}/start", "GET /api/v1/dsp/consumer/transfers/{id}/files/{path...}"} {
		if !slices.ContainsFunc(routes, func(r route) bool { return r.id == want }) {
			t.Errorf("the server's routes lack %s", want)
		}
	}
}

// Every route × every role × own and another tenant's records × active and
// suspended, and anonymous callers: each is allowed or refused as its row says.
func TestAuthorizationMatrix(t *testing.T) {
	x := newAuthzExchange(t)
	routes := matrixRoutes(t, x.server)
	byID := map[string]route{}
	for _, r := range routes {
		byID[r.id] = r
	}
	ops := map[string]*huma.Operation{}
	for _, item := range x.server.OpenAPI().Paths {
		for _, op := range []*huma.Operation{item.Get, item.Put, item.Post, item.Delete, item.Patch} {
			if op != nil {
				ops[op.OperationID] = op
			}
		}
	}
	if u, s, _ := coverage(routes, authzRows); len(u)+len(s) > 0 {
		t.Fatalf("the matrix does not match the routes: uncovered %v, stale %v", u, s)
	}
	for i := range authzRows {
		row := &authzRows[i]
		rt := byID[row.op]
		t.Run(strings.NewReplacer("/", "_", " ", "_").Replace(row.op), func(t *testing.T) {
			parent := x.t
			x.t = t // the fixture's helpers fail the row that calls them
			defer func() { x.t = parent }()
			type planned struct {
				c       *call
				allowed bool
				unasked bool // not asserted: see below
			}
			var plan []planned
			plan = append(plan, planned{&call{x: x, g: x.own, role: dataport.RoleBuyer, side: anonymous}, row.public, false})
			for _, r := range dataport.Roles {
				inAny, inOwn := slices.Contains(row.any, r), slices.Contains(row.own, r)
				plan = append(plan,
					planned{&call{x: x, g: x.own, role: r, caller: x.own.of(r), side: ownSide}, row.public || inAny || inOwn, false},
					planned{&call{x: x, g: x.other, role: r, caller: x.own.of(r), side: otherSide}, row.public || inAny, false})
				if r != operator {
					// A suspended participant reads its own records as before; its
					// changes are refused (api/auth.go).
					ok := row.public || inAny || inOwn
					if mutating(rt.method) && !row.suspendedChanges || row.suspendedRefused {
						ok = false
					}
					// What a suspended overseer (an operator is never suspended: a
					// regulator) reads of others' records the design leaves open:
					// "a suspended participant can still read its own records"
					// (README) says nothing of others'. Services differ; it is
					// not asserted.
					unasked := ok && !row.public && !inOwn && !mutating(rt.method)
					plan = append(plan, planned{&call{x: x, g: x.suspended, role: r, caller: x.suspended.of(r), side: suspended}, ok, unasked})
				}
			}
			// Refusals first: a call that is allowed may change what the next
			// one finds.
			slices.SortStableFunc(plan, func(a, b planned) int {
				switch {
				case a.allowed == b.allowed:
					return 0
				case !a.allowed:
					return -1
				}
				return 1
			})
			for _, p := range plan {
				p.c.allowed = p.allowed && !p.unasked
				res := p.c.send(row, rt, ops[row.op])
				who := fmt.Sprintf("%s %s as %s (%s)", rt.method, rt.path, p.c.role, p.c.side)
				if p.c.side == anonymous {
					who = fmt.Sprintf("%s %s anonymously", rt.method, rt.path)
				}
				switch {
				case p.unasked:
				case res.status >= 500:
					t.Errorf("%s: %d\n%.300s", who, res.status, res.body)
				case p.allowed && refused(res.status) && !(row.absent && res.status == http.StatusNotFound):
					t.Errorf("%s: refused with %d, want allowed\n%.300s", who, res.status, res.body)
				case !p.allowed && !refused(res.status) && !slices.Contains(row.refusal, res.status):
					t.Errorf("%s: %d, want refused (401, 403 or 404)\n%.300s", who, res.status, res.body)
				}
			}
		})
	}
}

func mutating(method string) bool {
	return method != http.MethodGet && method != http.MethodHead && method != http.MethodOptions
}
