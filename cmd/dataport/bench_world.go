package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	crand "crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/catalog"
	"github.com/dataport/dataport/compliance"
	"github.com/dataport/dataport/credit"
	"github.com/dataport/dataport/credit/merchantsim"
	"github.com/dataport/dataport/demo"
	"github.com/dataport/dataport/finance"
	"github.com/dataport/dataport/lending"
	"github.com/dataport/dataport/registry"
	"github.com/dataport/dataport/trade"
)

// benchMember is a participant the bench acts as: its key, and its contract
// signing key when it signs.
type benchMember struct {
	id, name string
	key      string
	signer   ed25519.PrivateKey
	signerID string
}

func (m *benchMember) sign(doc string) compliance.ContractSignature {
	return compliance.ContractSignature{KeyID: m.signerID, Signature: base64.StdEncoding.EncodeToString(ed25519.Sign(m.signer, []byte(doc)))}
}

// benchProduct is a listed product with a sealed file, which deals buy.
type benchProduct struct {
	id       string
	provider *benchMember // the supplier, or the agent for a foreign supplier
	file     string
	sha      string
}

// benchDownload is a finalised deal a buyer downloads from again and again.
type benchDownload struct {
	buyer          *benchMember
	deal, file, sh string
}

// benchMerchant is a merchant with its shops; mu makes its order feed one batch
// at a time and its credit applications one at a time, as one merchant's are.
type benchMerchant struct {
	*benchMember
	feed, credit sync.Mutex
	shops        []string // platform:external_id
	orders       int      // orders sent so far (under feed)
	pending      []string // the last batch's new orders, updated as settled in the next (under feed)
	risk         float64
	age, batches int
	category     string
	bank         *benchMember
	scope        []lending.Scope
}

type benchWorld struct {
	api      *benchAPI
	cfg      benchConfig
	run      string
	operator string

	participants int
	listed       int
	buyers       []*benchMember
	products     []benchProduct
	downloads    []benchDownload
	merchants    []*benchMerchant
	seq          atomic.Int64 // makes each run's idempotency keys unique
}

func (w *benchWorld) summary() string {
	return fmt.Sprintf("%d participants, %d listed products, %d with a file, %d merchants", w.participants, w.listed, len(w.products), len(w.merchants))
}

// runID names a run: six characters of the USCC alphabet, so that they may sit
// in an organisation code.
func runID() string {
	const alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
	b := make([]byte, 6)
	crand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// parallel runs fn(0..n-1) on at most par goroutines and returns the first error.
func parallel(n, par int, fn func(i int) error) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		next  atomic.Int64
	)
	for range min(n, par) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				mu.Lock()
				failed := first != nil
				mu.Unlock()
				if failed {
					return
				}
				if err := fn(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}

// memberSpec is one participant of a demo-sized unit of the world.
type memberSpec struct {
	n         registry.NewParticipant
	signs     bool
	whitelist bool
}

// unitMembers are the demo's participants (demo/seed.go), once per unit: three
// domestic suppliers (one also an agent), two foreign suppliers, a whitelisted
// agent, three buyers, an assessor, a regulator, two financial institutions and
// two merchants. The demo's buyer whose KYC is pending is verified here: the
// bench's buyers all trade.
func unitMembers(run string, u int) []memberSpec {
	tag := fmt.Sprintf("%s-%02d", run, u)
	n := 0
	domestic := func(zh, en, division string, roles ...dataport.Role) registry.NewParticipant {
		n++
		first17 := "91" + division + run + fmt.Sprintf("%02d", u%100) + string("0123456789ABCDEFGHJKLMNPQRTUWXY"[n])
		code, _ := registry.CompleteUSCC(first17)
		return registry.NewParticipant{LegalName: dataport.Bilingual{Zh: zh + "（" + tag + "）", En: en + " (" + tag + ")"},
			Jurisdiction: "CN", Kind: registry.Domestic, USCC: code, Roles: roles}
	}
	foreign := func(en, country string, roles ...dataport.Role) registry.NewParticipant {
		n++
		return registry.NewParticipant{LegalName: dataport.Bilingual{En: en + " (" + tag + ")"}, Jurisdiction: country,
			Kind: registry.Foreign, RegistrationNumber: fmt.Sprintf("BENCH-%s-%d", tag, n), Roles: roles}
	}
	merchant := func(zh, en, division, category string) registry.NewParticipant {
		p := domestic(zh, en, division, dataport.RoleMerchant)
		p.MerchantCategory = category
		return p
	}
	return []memberSpec{
		{n: domestic("上海星河数据科技有限公司", "Shanghai Xinghe Data Technology Co., Ltd.", "310115", dataport.RoleSupplier), signs: true},
		{n: domestic("杭州云栈物流数据有限公司", "Hangzhou Yunzhan Logistics Data Co., Ltd.", "330106", dataport.RoleSupplier), signs: true},
		{n: foreign("Nordhav Energy Data AS", "NO", dataport.RoleSupplier), signs: true},
		{n: foreign("Altmark Signals Ltd", "GB", dataport.RoleSupplier), signs: true},
		{n: domestic("上海浦江国际数据服务有限公司", "Shanghai Pujiang International Data Services Co., Ltd.", "310101", dataport.RoleAgent), signs: true, whitelist: true},
		{n: domestic("上海临港跨境数据经纪有限公司", "Shanghai Lingang Cross-border Data Brokerage Co., Ltd.", "310115", dataport.RoleAgent, dataport.RoleSupplier), signs: true, whitelist: true},
		{n: domestic("上海远景私募基金管理有限公司", "Shanghai Yuanjing Private Equity Fund Management Co., Ltd.", "310104", dataport.RoleBuyer), signs: true},
		{n: domestic("华东证券股份有限公司", "Huadong Securities Co., Ltd.", "310000", dataport.RoleBuyer), signs: true},
		{n: domestic("苏州新锐量化投资有限公司", "Suzhou Xinrui Quantitative Investment Co., Ltd.", "320505", dataport.RoleBuyer), signs: true},
		{n: domestic("上海明理律师事务所", "Shanghai Mingli Law Firm", "310000", dataport.RoleAssessor)},
		{n: domestic("上海市数据监管局（演示）", "Shanghai Data Regulatory Office (demo)", "310000", dataport.RoleRegulator)},
		{n: domestic("浦东商业银行股份有限公司", "Pudong Commercial Bank Co., Ltd.", "310000", dataport.RoleFinancialInstitution)},
		{n: domestic("长三角普惠小额贷款有限公司", "Yangtze Delta Inclusive Microcredit Co., Ltd.", "330402", dataport.RoleFinancialInstitution)},
		{n: merchant("嘉兴冻品鲜生食品有限公司", "Jiaxing Frozen Fresh Foods Co., Ltd.", "330402", "frozen meat e-commerce")},
		{n: merchant("义乌优选直播电商有限公司", "Yiwu Youxuan Live Commerce Co., Ltd.", "330782", "live-stream e-commerce")},
	}
}

// benchUnit is one demo-sized unit's participants, by their place in unitMembers.
type benchUnit []*benchMember

func buildWorld(ctx context.Context, api *benchAPI, c benchConfig, log io.Writer) (*benchWorld, error) {
	w := &benchWorld{api: api, cfg: c, run: runID()}
	var me struct {
		Participant registry.Participant `json:"participant"`
		Roles       []dataport.Role      `json:"roles"`
	}
	for range c.urls { // every server answers, to the operator
		if err := api.call(ctx, c.key, "GET", "/api/v1/me", nil, &me); err != nil {
			return nil, err
		}
		if !slices.Contains(me.Roles, dataport.RoleOperator) {
			return nil, fmt.Errorf("the key is %s's, acting as %v: the bench needs the operator's", me.Participant.ID, me.Roles)
		}
	}
	w.operator = me.Participant.ID
	needFinance := c.mix["ingest"] > 0 || c.mix["decision"] > 0

	// Participants, unit by unit, in parallel.
	units := make([]benchUnit, c.scale)
	specs := make([][]memberSpec, c.scale)
	for u := range units {
		specs[u] = unitMembers(w.run, u)
		units[u] = make(benchUnit, len(specs[u]))
	}
	per := len(specs[0])
	until := time.Now().AddDate(1, 0, 0).Format(time.DateOnly)
	err := parallel(c.scale*per, c.setupPar, func(i int) error {
		s := specs[i/per][i%per]
		m, err := w.register(ctx, s, until)
		units[i/per][i%per] = m
		return err
	})
	if err != nil {
		return nil, err
	}
	w.participants = c.scale * per
	fmt.Fprintf(log, "bench: %d participants registered\n", w.participants)

	// The agency contracts (R22): each unit's foreign suppliers with its agent.
	from, to := time.Now().AddDate(0, 0, -1).Format(time.DateOnly), time.Now().AddDate(2, 0, 0).Format(time.DateOnly)
	categories := demo.Categories()
	err = parallel(c.scale*2, c.setupPar, func(i int) error {
		u := units[i/2]
		supplier, agent := u[2+i%2], u[4]
		var ac compliance.AgencyContract
		if err := api.call(ctx, agent.key, "POST", "/api/v1/agency-contracts", compliance.NewAgencyContract{SupplierID: supplier.id,
			AgentID: agent.id, Categories: categories, ValidFrom: from, ValidUntil: to,
			Terms: "The agent lists, markets and delivers the supplier's data products in China under the exchange's rules."}, &ac); err != nil {
			return err
		}
		for _, m := range []*benchMember{supplier, agent} {
			if err := api.call(ctx, m.key, "POST", "/api/v1/agency-contracts/"+ac.ID+"/signatures", m.sign(ac.Document), nil); err != nil {
				return err
			}
		}
		return api.call(ctx, c.key, "POST", "/api/v1/agency-contracts/"+ac.ID+"/certify", nil, nil)
	})
	if err != nil {
		return nil, err
	}

	// The catalogue: the demo's 210 products per unit, listed through the workflow.
	type plan struct {
		u       int
		d       catalog.Details
		actor   *benchMember
		supplID string
		file    bool
	}
	var plans []plan
	for u := range units {
		for _, p := range unitCatalog(u) {
			var actor *benchMember
			supplier := units[u][p.supplier]
			if p.viaAgent {
				actor = units[u][4]
			} else {
				actor = supplier
			}
			plans = append(plans, plan{u: u, d: p.d, actor: actor, supplID: supplier.id, file: slices.Contains(p.d.DeliveryModes, "file")})
		}
	}
	products := make([]*benchProduct, len(plans))
	err = parallel(len(plans), c.setupPar, func(i int) error {
		p := plans[i]
		bp, err := w.list(ctx, p.actor, p.supplID, p.d, p.file, i)
		products[i] = bp
		return err
	})
	if err != nil {
		return nil, err
	}
	w.listed = len(plans)
	for _, p := range products {
		if p.file != "" {
			w.products = append(w.products, *p)
		}
	}
	fmt.Fprintf(log, "bench: %d products listed, %d with a file\n", w.listed, len(w.products))

	// Buyers, funded from the bank statement.
	for _, u := range units {
		w.buyers = append(w.buyers, u[6], u[7], u[8])
	}
	if c.mix["deal"] > 0 || c.mix["download"] > 0 {
		err = parallel(len(w.buyers), c.setupPar, func(i int) error {
			b := w.buyers[i]
			return api.call(ctx, c.key, "POST", "/api/v1/participants/"+b.id+"/funding",
				map[string]any{"amount": dataport.Money{Amount: 1_000_000_000_000_00, Currency: "CNY"}}, nil, "Idempotency-Key", "bench-"+w.run+"-"+b.id)
		})
		if err != nil {
			return nil, err
		}
	}
	// Each buyer's two finalised deals to download from, with a million uses: one
	// at a time, for the setup is not what is measured, and concurrent deals on
	// replicas sharing PostgreSQL can fail (a deadlock in trade.hold), which the
	// timed mix reports but the setup must not stop at.
	if c.mix["download"] > 0 {
		w.downloads = make([]benchDownload, 2*len(w.buyers))
		err = parallel(len(w.downloads), 1, func(i int) error {
			b := w.buyers[i/2]
			p := w.products[(i*7)%len(w.products)]
			id, err := w.deal(ctx, b, p, 1_000_000)
			w.downloads[i] = benchDownload{buyer: b, deal: id, file: p.file, sh: p.sha}
			return err
		})
		if err != nil {
			return nil, err
		}
	}

	if needFinance {
		if err := w.buildFinance(ctx, units); err != nil {
			return nil, err
		}
		fmt.Fprintf(log, "bench: %d merchants with a history, consent and credit decision\n", len(w.merchants))
	}
	return w, nil
}

// register creates a participant, verifies its KYC, whitelists an agent, and
// gives it an API key and, when it signs contracts, a signing key.
func (w *benchWorld) register(ctx context.Context, s memberSpec, until string) (*benchMember, error) {
	var p registry.Participant
	api, op := w.api, w.cfg.key
	if err := api.call(ctx, op, "POST", "/api/v1/participants", s.n, &p); err != nil {
		return nil, err
	}
	if err := api.call(ctx, op, "POST", "/api/v1/participants/"+p.ID+"/kyc", registry.KYCReview{Status: registry.KYCVerified, Note: "bench: documents checked"}, nil); err != nil {
		return nil, err
	}
	if s.whitelist {
		if err := api.call(ctx, op, "PUT", "/api/v1/participants/"+p.ID+"/whitelist",
			registry.WhitelistEntry{Reference: "MOFCOM-BENCH-" + p.ID, ValidUntil: until}, nil); err != nil {
			return nil, err
		}
	}
	var key struct {
		Token string `json:"token"`
	}
	if err := api.call(ctx, op, "POST", "/api/v1/participants/"+p.ID+"/api-keys", registry.NewAPIKey{Name: "bench " + w.run}, &key); err != nil {
		return nil, err
	}
	m := &benchMember{id: p.ID, name: p.LegalName.En, key: key.Token}
	if s.signs {
		pub, priv, _ := ed25519.GenerateKey(crand.Reader)
		var sk struct {
			ID string `json:"id"`
		}
		if err := api.call(ctx, op, "POST", "/api/v1/participants/"+p.ID+"/signing-keys",
			registry.NewSigningKey{Name: "contracts", PublicKey: base64.StdEncoding.EncodeToString(pub)}, &sk); err != nil {
			return nil, err
		}
		m.signer, m.signerID = priv, sk.ID
	}
	return m, nil
}

// list takes a product through the listing workflow as its supplier (or agent)
// and the operator would: the compliance report uploaded, the draft created, its
// file stored and the revision's manifest sealed, submitted, reviewed, approved.
func (w *benchWorld) list(ctx context.Context, actor *benchMember, supplierID string, d catalog.Details, withFile bool, n int) (*benchProduct, error) {
	api := w.api
	var att catalog.UploadedAttachment
	report := fmt.Sprintf("# 数据产品合规评估报告 / Data product compliance assessment\n\n- 报告编号 / Report: BENCH-%s-%05d\n- 产品 / Product: %s / %s\n\n"+
		"数据来源合法，权属清晰，未含个人信息。The data is lawfully sourced and contains no personal information.\n", w.run, n, d.Title.Zh, d.Title.En)
	if err := api.call(ctx, actor.key, "POST", "/api/v1/attachments?name=compliance-assessment.md",
		rawBody{"text/markdown; charset=utf-8", []byte(report)}, &att); err != nil {
		return nil, err
	}
	d.Attachments = []catalog.Attachment{{Kind: "compliance_report", SHA256: att.SHA256, Name: att.Name}}
	var p catalog.Product
	if err := api.call(ctx, actor.key, "POST", "/api/v1/products", catalog.NewProduct{SupplierID: supplierID, Details: d}, &p); err != nil {
		return nil, err
	}
	bp := &benchProduct{id: p.ID, provider: actor}
	if withFile {
		content := benchFile(w.cfg.seed, n, w.cfg.fileSize)
		h := sha256.Sum256(content)
		bp.file, bp.sha = fmt.Sprintf("data/%s-%05d.bin", d.UpdateFrequency, n), hex.EncodeToString(h[:])
		rev := "/api/v1/products/" + p.ID + "/revisions/1"
		if err := api.call(ctx, actor.key, "PUT", rev+"/files?path="+url.QueryEscape(bp.file)+"&sha256="+bp.sha,
			rawBody{"application/octet-stream", content}, nil); err != nil {
			return nil, err
		}
		if err := api.call(ctx, actor.key, "POST", rev+"/manifest", nil, nil); err != nil {
			return nil, err
		}
	}
	for _, step := range []struct{ key, move string }{{actor.key, "submit"}, {w.cfg.key, "review"}, {w.cfg.key, "approve"}} {
		if err := api.call(ctx, step.key, "POST", "/api/v1/products/"+p.ID+"/"+step.move, nil, nil); err != nil {
			return nil, err
		}
	}
	return bp, nil
}

// benchFile is product n's file: bytes drawn from the seed, so a rerun stores the same.
func benchFile(seed uint64, n, size int) []byte {
	var s [32]byte
	for i := range 8 {
		s[i], s[8+i] = byte(seed>>(8*i)), byte(uint64(n)>>(8*i))
	}
	b := make([]byte, size)
	rand.NewChaCha8(s).Read(b)
	return b
}

// deal runs a whole deal for buyer on p and returns its id: requested at the
// one-off plan, the contract draft fetched and signed by the provider (agree),
// the agreed contract signed by the buyer (verify), finalised by the provider
// (the exchange countersigns), and the file downloaded whole and checked — the
// delivery that confirms the deal and releases the escrow.
func (w *benchWorld) deal(ctx context.Context, buyer *benchMember, p benchProduct, maxUses int64) (string, error) {
	api := w.api
	var d trade.Deal
	if err := api.call(ctx, buyer.key, "POST", "/api/v1/deals", trade.NewDeal{ProductID: p.id, Plan: 1, Scenario: "research",
		Purpose: "academic", DeliveryMode: "file", MaxUses: maxUses}, &d); err != nil {
		return "", err
	}
	if d.Outcome != "allow" {
		return d.ID, fmt.Errorf("deal %s on %s: assessed %s, unmet %v", d.ID, p.id, d.Outcome, d.Unmet)
	}
	var draft struct {
		Document string `json:"document"`
	}
	if err := api.call(ctx, p.provider.key, "GET", "/api/v1/deals/"+d.ID+"/contract", nil, &draft); err != nil {
		return d.ID, err
	}
	if err := api.call(ctx, p.provider.key, "POST", "/api/v1/deals/"+d.ID+"/agree", p.provider.sign(draft.Document), nil,
		"Idempotency-Key", fmt.Sprintf("agree-%s-%d", w.run, w.seq.Add(1))); err != nil {
		return d.ID, err
	}
	if err := api.call(ctx, buyer.key, "GET", "/api/v1/deals/"+d.ID, nil, &d); err != nil {
		return d.ID, err
	}
	if err := api.call(ctx, buyer.key, "POST", "/api/v1/deals/"+d.ID+"/verify", buyer.sign(d.Contract), nil); err != nil {
		return d.ID, err
	}
	if err := api.call(ctx, p.provider.key, "POST", "/api/v1/deals/"+d.ID+"/finalize", nil, nil); err != nil {
		return d.ID, err
	}
	return d.ID, api.download(ctx, buyer.key, d.ID, p.file, p.sha)
}

// buildFinance gives the institutions their standing subscriptions, and each
// merchant its shops, an attested order history, a consent to one institution
// and a first credit decision, as the demo's financing side has (demo/finance.go).
func (w *benchWorld) buildFinance(ctx context.Context, units []benchUnit) error {
	api := w.api
	cny := func(yuan int64) dataport.Money { return dataport.Money{Amount: yuan * 100, Currency: "CNY"} }
	// The demo's subscriptions, with the line bands widened: the bench's ingest
	// raises the merchants' sales far past a demo merchant's, and a line beyond a
	// band would leave a merchant without offers to apply on.
	pudong := []lending.NewSubscription{{
		Criteria: lending.Criteria{Product: lending.OrderFinancing, MinLine: cny(1_000), MaxLine: cny(1_000_000_000)},
		Terms:    lending.Terms{MaxAmount: cny(300_000), RateBPS: 580, TermDays: 60, RepaymentShareBPS: 5000, OfferValidDays: 7},
		Rules: []lending.Rule{
			{ID: "grade", Expr: `grade in ["A", "B", "C"]`, Reason: "risk grade below C"},
			{ID: "within_line", Expr: `amount <= line`, Reason: "amount above the merchant's credit line"},
			{ID: "no_overdue", Expr: `overdue_loans == 0`, Reason: "an overdue loan with the bank"},
		},
	}, {
		Criteria: lending.Criteria{Product: lending.CreditSales, Grades: []string{"A", "B"}, MinLine: cny(50_000), MaxLine: cny(1_000_000_000)},
		Terms:    lending.Terms{MaxAmount: cny(200_000), RateBPS: 450, TermDays: 30, RepaymentShareBPS: 3000, OfferValidDays: 7},
		Rules:    []lending.Rule{{ID: "pd", Expr: `pd < 0.025`, Reason: "probability of default of 2.5 % or more"}},
	}}
	yangtze := []lending.NewSubscription{{
		Criteria: lending.Criteria{Product: lending.AdSpendLoan, MinLine: cny(1_000), MaxLine: cny(1_000_000_000), Sectors: []string{"live-stream e-commerce"}},
		Terms:    lending.Terms{MaxAmount: cny(100_000), RateBPS: 1200, TermDays: 14, RepaymentShareBPS: 8000, OfferValidDays: 3},
		Rules: []lending.Rule{
			{ID: "pd", Expr: `pd < 0.12`, Reason: "probability of default of 12 % or more"},
			{ID: "exposure", Expr: `outstanding + amount <= 10000000`, Reason: "more than 100,000 CNY outstanding with us"},
		},
	}, {
		Criteria: lending.Criteria{Product: lending.OrderFinancing, MinLine: cny(1_000), MaxLine: cny(1_000_000_000)},
		Terms:    lending.Terms{MaxAmount: cny(50_000), RateBPS: 1500, TermDays: 30, RepaymentShareBPS: 6000, OfferValidDays: 3},
	}}
	type sub struct {
		bank *benchMember
		n    lending.NewSubscription
	}
	var subs []sub
	for _, u := range units {
		for _, n := range pudong {
			subs = append(subs, sub{u[11], n})
		}
		for _, n := range yangtze {
			subs = append(subs, sub{u[12], n})
		}
		w.merchants = append(w.merchants,
			&benchMerchant{benchMember: u[13], risk: -1.0, age: 150, batches: 3, category: "frozen meat e-commerce", bank: u[11], scope: []lending.Scope{lending.ScopeScore}},
			&benchMerchant{benchMember: u[14], risk: -0.3, age: 90, batches: 2, category: "live-stream e-commerce", bank: u[12], scope: []lending.Scope{lending.ScopeScore, lending.ScopeFeatures}})
	}
	if err := parallel(len(subs), w.cfg.setupPar, func(i int) error {
		return api.call(ctx, subs[i].bank.key, "POST", "/api/v1/subscriptions", subs[i].n, nil)
	}); err != nil {
		return err
	}
	now := time.Now().Add(-time.Minute) // the server's clock is the real one: no order in its future
	return parallel(len(w.merchants), w.cfg.setupPar, func(i int) error {
		m := w.merchants[i]
		sim := merchantsim.DefaultParams().WithRisk(w.cfg.seed, i, m.risk)
		sim.Age = m.age
		for s := range sim.Shops { // a shop belongs to one merchant: this run's own ids
			sim.Shops[s].ExternalID = fmt.Sprintf("%s-%d-%d", w.run, i, s+1)
		}
		for _, sh := range sim.NewShops() {
			if err := api.call(ctx, m.key, "POST", "/api/v1/merchants/"+m.id+"/shops", sh, nil); err != nil {
				return err
			}
			m.shops = append(m.shops, sh.Platform+":"+sh.ExternalID)
		}
		orders := sim.Orders(now)
		sort.SliceStable(orders, func(a, b int) bool { return orders[a].OrderedAt.Before(orders[b].OrderedAt) })
		for b := 0; b < m.batches; b++ {
			var buf bytes.Buffer
			if err := merchantsim.WriteCSV(&buf, orders[b*len(orders)/m.batches:(b+1)*len(orders)/m.batches]); err != nil {
				return err
			}
			var rep finance.BatchReport
			if err := api.call(ctx, m.key, "POST", "/api/v1/merchants/"+m.id+"/batches?format=csv", rawBody{"text/csv", buf.Bytes()}, &rep); err != nil {
				return err
			}
			if rep.Rejected > 0 {
				return fmt.Errorf("merchant %s's history: %d rows rejected: %+v", m.id, rep.Rejected, rep.Problems)
			}
		}
		if err := api.call(ctx, m.key, "POST", "/api/v1/merchants/"+m.id+"/consents", lending.NewConsent{Scope: m.scope,
			Institutions: []string{m.bank.id}, ExpiresAt: time.Now().AddDate(0, 6, 0)}, nil); err != nil {
			return err
		}
		return api.call(ctx, m.key, "POST", "/api/v1/merchants/"+m.id+"/decisions", nil, nil)
	})
}

// run1 runs one operation of the mix.
func (w *benchWorld) run1(ctx context.Context, op string, rng *rand.Rand) error {
	switch op {
	case "search":
		return w.search(ctx, rng)
	case "deal":
		_, err := w.deal(ctx, w.buyers[rng.IntN(len(w.buyers))], w.products[rng.IntN(len(w.products))], 0)
		return err
	case "download":
		d := w.downloads[rng.IntN(len(w.downloads))]
		return w.api.download(ctx, d.buyer.key, d.deal, d.file, d.sh)
	case "ingest":
		return w.ingest(ctx, w.lock(rng, func(m *benchMerchant) *sync.Mutex { return &m.feed }), rng)
	case "decision":
		return w.decide(ctx, w.lock(rng, func(m *benchMerchant) *sync.Mutex { return &m.credit }), rng)
	}
	return fmt.Errorf("no operation %q", op)
}

// benchQueries are what buyers search for: the catalogue's words in Chinese and
// English, one-character and two-character Chinese among them.
var benchQueries = []string{"原油", "原油产量", "信用", "信用评分", "集装箱运价", "港口", "港口吞吐量", "电商", "电商销售指数", "直播", "台风路径",
	"空气质量", "药品", "碳排放", "天然气", "北海", "长三角", "月度", "日度", "油", "crude oil", "credit scores", "freight", "container freight index",
	"port throughput", "sales index", "typhoon", "air quality", "pharmaceutical sales", "solar generation", "North Sea", "Southeast Asia",
	"daily", "monthly bond default", "vessel AIS", "logistics timeliness", "北海 crude", "", ""}

// search is a buyer's catalog query: words, sometimes a filter or the newest
// first, sometimes the second page; the answer carries the facets.
func (w *benchWorld) search(ctx context.Context, rng *rand.Rand) error {
	q := url.Values{}
	if s := benchQueries[rng.IntN(len(benchQueries))]; s != "" {
		q.Set("q", s)
	}
	switch rng.IntN(6) {
	case 0:
		categories := demo.Categories()
		q.Set("category", categories[rng.IntN(len(categories))])
	case 1:
		q.Set("delivery_mode", []string{"file", "api", "sandbox"}[rng.IntN(3)])
	case 2:
		q.Set("jurisdiction", []string{"CN", "NO", "GB", "SG"}[rng.IntN(4)])
	case 3:
		q.Set("sort", "newest")
	}
	var res catalog.SearchResult
	buyer := w.buyers[rng.IntN(len(w.buyers))]
	if err := w.api.call(ctx, buyer.key, "GET", "/api/v1/products?"+q.Encode(), nil, &res); err != nil {
		return err
	}
	if res.Facets == nil {
		return fmt.Errorf("search %s: no facets in the answer", q.Encode())
	}
	if res.Next != "" && rng.IntN(4) == 0 {
		q.Set("after", res.Next)
		return w.api.call(ctx, buyer.key, "GET", "/api/v1/products?"+q.Encode(), nil, &res)
	}
	return nil
}

// lock picks a merchant and holds the lock of of it; the caller unlocks it.
// A merchant that is busy is passed over for a free one when there is one.
func (w *benchWorld) lock(rng *rand.Rand, of func(*benchMerchant) *sync.Mutex) *benchMerchant {
	start := rng.IntN(len(w.merchants))
	for i := range w.merchants {
		m := w.merchants[(start+i)%len(w.merchants)]
		if of(m).TryLock() {
			return m
		}
	}
	m := w.merchants[start]
	of(m).Lock()
	return m
}

// ingest sends one batch of the merchant's order events: new orders of the last
// two days, and a fifth of the batch updating the previous batch's orders as
// delivered and settled by the platform (receivables that repay loans).
func (w *benchWorld) ingest(ctx context.Context, m *benchMerchant, rng *rand.Rand) error {
	defer m.feed.Unlock()
	now := time.Now().In(dataport.China)
	var b bytes.Buffer
	b.WriteString("order_id,shop,ordered_at,amount,currency,status,expected_settlement,settled_at,updated_at\n")
	rows := w.cfg.ingestRows
	updates := min(len(m.pending), rows/5)
	at := now.Add(-time.Minute).Format(time.RFC3339)
	for _, p := range m.pending[:updates] {
		f := strings.Split(p, "|") // id, shop, ordered_at, amount
		fmt.Fprintf(&b, "%s,%s,%s,%s,CNY,delivered,%s,%s,%s\n", f[0], f[1], f[2], f[3], now.Format(time.DateOnly), at, at)
	}
	m.pending = m.pending[:0]
	for range rows - updates {
		m.orders++
		id := fmt.Sprintf("%s-%07d", w.run, m.orders)
		shop := m.shops[rng.IntN(len(m.shops))]
		ordered := now.Add(-time.Duration(rng.Int64N(int64(47*time.Hour))) - time.Minute).Format(time.RFC3339)
		amount := fmt.Sprintf("%d.%02d", 20+rng.IntN(480), rng.IntN(100))
		status := []string{"paid", "paid", "shipped", "delivered"}[rng.IntN(4)]
		fmt.Fprintf(&b, "%s,%s,%s,%s,CNY,%s,%s,,\n", id, shop, ordered, amount, status, now.AddDate(0, 0, 14).Format(time.DateOnly))
		m.pending = append(m.pending, id+"|"+shop+"|"+ordered+"|"+amount)
	}
	var rep finance.BatchReport
	if err := w.api.call(ctx, m.key, "POST", "/api/v1/merchants/"+m.id+"/batches?format=csv", rawBody{"text/csv", b.Bytes()}, &rep); err != nil {
		return err
	}
	if rep.Rows != int64(rows) || rep.Rejected > 0 {
		return fmt.Errorf("batch %s of merchant %s: %d rows of %d, %d rejected: %+v", rep.ID, m.id, rep.Rows, rows, rep.Rejected, rep.Problems[:min(3, len(rep.Problems))])
	}
	return nil
}

// decide is a merchant's credit decision and an application on an offer it
// made: the institution's rules decide it in the same request (approved with a
// loan disbursed, or declined with reasons: both are decisions).
func (w *benchWorld) decide(ctx context.Context, m *benchMerchant, rng *rand.Rand) error {
	defer m.credit.Unlock()
	var d credit.Decision
	if err := w.api.call(ctx, m.key, "POST", "/api/v1/merchants/"+m.id+"/decisions", nil, &d); err != nil {
		return err
	}
	var offers struct {
		Items []lending.Offer `json:"items"`
	}
	if err := w.api.call(ctx, m.key, "GET", "/api/v1/offers?status=open&limit=100&merchant_id="+m.id, nil, &offers); err != nil {
		return err
	}
	var mine []lending.Offer
	for _, o := range offers.Items {
		// An ad-spend loan is sized from a live room's stream (投流贷), which the
		// mix does not send: the merchant applies for the others.
		if o.DecisionID == d.ID && o.Product != lending.AdSpendLoan {
			mine = append(mine, o)
		}
	}
	if len(mine) == 0 {
		return fmt.Errorf("decision %s (grade %s, line %d) made merchant %s no open offer", d.ID, d.Grade, d.Line.Amount, m.id)
	}
	o := mine[rng.IntN(len(mine))]
	var app lending.Application
	if err := w.api.call(ctx, m.key, "POST", "/api/v1/offers/"+o.ID+"/applications",
		map[string]any{"amount": dataport.Money{Amount: min(o.Amount.Amount, 20_000_00), Currency: o.Amount.Currency}, "purpose": "stock for the coming week"},
		&app, "Idempotency-Key", fmt.Sprintf("apply-%s-%d", w.run, w.seq.Add(1))); err != nil {
		return err
	}
	if app.Decision.Outcome != "approved" && app.Decision.Outcome != "declined" {
		return fmt.Errorf("application %s: outcome %q", app.ID, app.Decision.Outcome)
	}
	return nil
}
