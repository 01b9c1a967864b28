package catalog

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/catalog/search"
	"github.com/dataport/dataport/ledger"
	"github.com/dataport/dataport/notify"
	"github.com/dataport/dataport/registry"
	"github.com/dataport/dataport/store"
)

// Demands and matching (供需對接). A buyer posts what it needs; the matcher ranks
// listed products for it, and when a product is listed it finds the open demands it
// fits and tells their buyers, with the reasons. A product fits a demand when it
// shares at least one term with the demand's text and passes every filter the
// demand sets (category, origin jurisdictions, delivery mode, budget).

// Demand is a buyer's need.
type Demand struct {
	ID            string         `json:"id"`
	BuyerID       string         `json:"buyer_id"`
	Text          string         `json:"text"`
	Category      string         `json:"category,omitempty"`
	BudgetMin     dataport.Money `json:"budget_min"`
	BudgetMax     dataport.Money `json:"budget_max" doc:"0: no upper bound"`
	Jurisdictions []string       `json:"jurisdictions,omitempty" doc:"origin jurisdictions accepted; any when empty"`
	DeliveryMode  string         `json:"delivery_mode,omitempty"`
	Deadline      string         `json:"deadline,omitempty" doc:"YYYY-MM-DD"`
	Status        string         `json:"status" enum:"open,closed"`
	CreatedAt     time.Time      `json:"created_at"`
}

// NewDemand is what a buyer posts.
type NewDemand struct {
	Text          string   `json:"text" minLength:"1" maxLength:"2000"`
	Category      string   `json:"category,omitempty" maxLength:"64"`
	Currency      string   `json:"currency" pattern:"^[A-Z]{3}$"`
	BudgetMin     int64    `json:"budget_min,omitempty" minimum:"0" doc:"minor units"`
	BudgetMax     int64    `json:"budget_max,omitempty" minimum:"0" doc:"minor units; 0: no upper bound"`
	Jurisdictions []string `json:"jurisdictions,omitempty" maxItems:"50"`
	DeliveryMode  string   `json:"delivery_mode,omitempty" enum:"file,api,privacy_computing,sandbox,model_output"`
	Deadline      string   `json:"deadline,omitempty" format:"date"`
}

// Match is a product that fits a demand, and why.
type Match struct {
	ProductID    string   `json:"product_id"`
	Title        string   `json:"title"`
	Score        float64  `json:"score"`
	MatchedTerms []string `json:"matched_terms"`
	Reasons      []string `json:"reasons" doc:"the filters the product passed"`
}

// PostDemand records a buyer's demand. Buyers only.
func (s *Service) PostDemand(ctx context.Context, actor dataport.Actor, n NewDemand) (Demand, error) {
	const op = "catalog.PostDemand"
	var d Demand
	terms := search.Query(strings.TrimSpace(n.Text))
	var candidates []string
	if len(terms) > 0 && utf8.RuneCountInString(n.Text) <= 2000 {
		var err error
		if candidates, err = s.candidates(ctx, terms); err != nil {
			return Demand{}, err
		}
	}
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		if err := registry.MayAct(tx, op, actor); err != nil {
			return err
		}
		if !actor.Has(dataport.RoleBuyer) {
			return dataport.Errorf(op, dataport.KindForbidden, "demands are posted by buyers")
		}
		var p dataport.Problems
		n.Text = strings.TrimSpace(n.Text)
		if n.Text == "" || utf8.RuneCountInString(n.Text) > 2000 {
			p.Add("text", "say what you need, in at most 2000 characters")
		} else if len(search.Query(n.Text)) == 0 {
			p.Add("text", "no words to match")
		}
		if n.Category != "" && !categoryName.MatchString(n.Category) {
			p.Add("category", "a lower-case category name such as energy")
		}
		if !dataport.IsCurrency(n.Currency) {
			p.Add("currency", "an ISO 4217 code such as CNY")
		}
		if n.BudgetMin < 0 || n.BudgetMax < 0 || (n.BudgetMax > 0 && n.BudgetMax < n.BudgetMin) {
			p.Add("budget_max", "budgets are not negative and the maximum is not below the minimum")
		}
		for i, j := range n.Jurisdictions {
			if !registry.IsCountry(j) {
				p.Add(fmt.Sprintf("jurisdictions[%d]", i), "an ISO 3166-1 alpha-2 country code")
			}
		}
		if n.DeliveryMode != "" && !enumDelivery[n.DeliveryMode] {
			p.Add("delivery_mode", "file, api, privacy_computing, sandbox or model_output")
		}
		if n.Deadline != "" {
			if _, err := time.Parse(time.DateOnly, n.Deadline); err != nil {
				p.Add("deadline", "a date, YYYY-MM-DD")
			}
		}
		if err := p.Err(op); err != nil {
			return err
		}
		d = Demand{ID: dataport.NewID("dmd"), BuyerID: actor.ParticipantID, Text: n.Text, Category: n.Category,
			BudgetMin: dataport.Money{Amount: n.BudgetMin, Currency: n.Currency}, BudgetMax: dataport.Money{Amount: n.BudgetMax, Currency: n.Currency},
			Jurisdictions: n.Jurisdictions, DeliveryMode: n.DeliveryMode, Deadline: n.Deadline, Status: "open", CreatedAt: tx.Now()}
		js, _ := json.Marshal(append([]string{}, d.Jurisdictions...))
		if _, err := tx.Exec(`INSERT INTO demands (id, buyer_id, text, category, budget_min, budget_max, currency, jurisdictions,
			delivery_mode, deadline, status, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'open', $11)`,
			d.ID, d.BuyerID, d.Text, d.Category, n.BudgetMin, n.BudgetMax, n.Currency, string(js), d.DeliveryMode, d.Deadline,
			store.FormatTime(d.CreatedAt)); err != nil {
			return dataport.Internal(op, err)
		}
		// The products listed now that fit it: their managers hear of the demand, and
		// its buyer of them, in the same transaction as the demand.
		ps, err := listedProducts(tx, op, candidates)
		if err != nil {
			return err
		}
		var fits []Match
		byID := map[string]*Product{}
		for i := range ps {
			if visible(tx, &ps[i]) {
				if m, ok := fit(&d, &ps[i], terms); ok {
					fits, byID[ps[i].ID] = append(fits, m), &ps[i]
				}
			}
		}
		rank(fits)
		for _, m := range fits[:min(len(fits), notifyOnPost)] {
			if err := notifyBothSides(tx, &d, byID[m.ProductID], m); err != nil {
				return dataport.Internal(op, err)
			}
		}
		// Demands are filed without their text: what a buyer looks for is its business.
		_, err = ledger.File(tx, actor, ledger.Change{Type: "demand.posted", Subjects: []string{d.ID, d.BuyerID},
			Payload: map[string]any{"demand_id": d.ID, "category": d.Category, "text_sha256": sha(d.Text)}})
		return err
	})
	return d, err
}

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// Matches ranks the listed products that fit a demand: its buyer and the operator ask.
func (s *Service) Matches(ctx context.Context, actor dataport.Actor, demandID string, limit int) ([]Match, error) {
	const op = "catalog.Matches"
	if limit <= 0 || limit > 100 {
		limit = 20
	}
	var d Demand
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		var err error
		if d, err = getDemand(tx, op, demandID); err != nil {
			return err
		}
		if actor.ParticipantID != d.BuyerID && !actor.Has(dataport.RoleOperator) {
			return dataport.Errorf(op, dataport.KindNotFound, "no demand %s", demandID)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Candidates: the visible listed products with any of the demand's terms; fit
	// decides and explains.
	terms := search.Query(d.Text)
	if len(terms) == 0 {
		return []Match{}, nil
	}
	ids, err := s.candidates(ctx, terms)
	if err != nil {
		return nil, err
	}
	out := []Match{}
	err = s.db.Read(ctx, func(tx *store.Tx) error {
		ps, err := listedProducts(tx, op, ids)
		for i := range ps {
			if m, ok := fit(&d, &ps[i], terms); ok {
				out = append(out, m)
			}
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	rank(out)
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// maxCandidates is how many products, by relevance, a demand's matching considers.
const maxCandidates = 500

// candidates are the visible listed products sharing a term with a demand's text, the
// most relevant first: what fit then decides on.
func (s *Service) candidates(ctx context.Context, terms []string) ([]string, error) {
	idx, hidden, err := s.searchIndex(ctx)
	if err != nil {
		return nil, err
	}
	found := idx.Search(search.Request{Terms: terms, Any: true, Limit: maxCandidates,
		Hide: map[string][]string{"supplier": hidden, "agent": hidden}})
	ids := make([]string, len(found.Hits))
	for i, h := range found.Hits {
		ids[i] = h.Key
	}
	return ids, nil
}

func rank(ms []Match) {
	sort.Slice(ms, func(i, j int) bool {
		if ms[i].Score != ms[j].Score {
			return ms[i].Score > ms[j].Score
		}
		return ms[i].ProductID > ms[j].ProductID
	})
}

// notifyOnPost is how many of the products fitting a new demand have their managers
// told of it.
const notifyOnPost = 20

// fit decides whether p fits d and explains why.
func fit(d *Demand, p *Product, terms []string) (Match, bool) {
	have := map[string]int{}
	det := p.Details
	for _, text := range []string{det.Title.Zh + " " + det.Title.En, det.Summary.Zh + " " + det.Summary.En, strings.Join(det.Tags, " ") + " " + det.Category} {
		for _, t := range search.Analyze(text) {
			have[t.Text]++
		}
	}
	m := Match{ProductID: p.ID, Title: title(det.Title)}
	for _, t := range terms {
		if have[t] > 0 {
			m.MatchedTerms = append(m.MatchedTerms, t)
			// Longer terms (two-character CJK, whole words) say more than one character.
			m.Score += math.Log1p(float64(have[t])) * float64(min(utf8.RuneCountInString(t), 4))
		}
	}
	if len(m.MatchedTerms) == 0 {
		return Match{}, false
	}
	if d.Category != "" {
		if det.Category != d.Category {
			return Match{}, false
		}
		m.Reasons = append(m.Reasons, "category "+d.Category)
	}
	if len(d.Jurisdictions) > 0 {
		if !slices.Contains(d.Jurisdictions, det.OriginJurisdiction) {
			return Match{}, false
		}
		m.Reasons = append(m.Reasons, "origin "+det.OriginJurisdiction+" accepted")
	}
	if d.DeliveryMode != "" {
		if !slices.Contains(det.DeliveryModes, d.DeliveryMode) {
			return Match{}, false
		}
		m.Reasons = append(m.Reasons, "delivered by "+d.DeliveryMode)
	}
	if d.BudgetMax.Amount > 0 {
		best := int64(-1)
		for _, plan := range det.PricePlans {
			if plan.Price.Currency == d.BudgetMax.Currency && plan.Price.Amount <= d.BudgetMax.Amount && (best < 0 || plan.Price.Amount < best) {
				best = plan.Price.Amount
			}
		}
		if best < 0 {
			return Match{}, false
		}
		m.Reasons = append(m.Reasons, fmt.Sprintf("a plan at %d %s within the budget of %d", best, d.BudgetMax.Currency, d.BudgetMax.Amount))
	}
	if d.Deadline != "" {
		m.Reasons = append(m.Reasons, "open until "+d.Deadline)
	}
	m.Score = math.Round(m.Score*1000) / 1000
	return m, true
}

// notifyDemands tells the buyers of open demands that a newly listed product fits
// them, in the same transaction as the listing.
func notifyDemands(tx *store.Tx, p *Product) error {
	ids, err := tx.Strings(`SELECT id FROM demands WHERE status = 'open' ORDER BY id`)
	if err != nil {
		return err
	}
	today := tx.Now().In(dataport.China).Format(time.DateOnly)
	for _, id := range ids {
		d, err := getDemand(tx, "catalog.notifyDemands", id)
		if err != nil {
			return err
		}
		if d.Deadline != "" && d.Deadline < today {
			continue
		}
		m, ok := fit(&d, p, search.Query(d.Text))
		if !ok {
			continue
		}
		if err := notifyBothSides(tx, &d, p, m); err != nil {
			return err
		}
	}
	return nil
}

// notifyBothSides tells a demand's buyer that a product fits it (demand.matched), and
// the product's manager — its agent for a foreign supplier, else its supplier — that
// a demand wants it (product.fits_demand), each with the explanation.
func notifyBothSides(tx *store.Tx, d *Demand, p *Product, m Match) error {
	if err := notify.Send(tx, d.BuyerID, "demand.matched", map[string]any{"demand_id": d.ID, "match": m}); err != nil {
		return err
	}
	manager := p.SupplierID
	if p.AgentID != "" {
		manager = p.AgentID
	}
	return notify.Send(tx, manager, "product.fits_demand", map[string]any{"product_id": p.ID, "match": m,
		"demand": map[string]any{"id": d.ID, "text": d.Text, "category": d.Category, "budget_min": d.BudgetMin,
			"budget_max": d.BudgetMax, "jurisdictions": d.Jurisdictions, "delivery_mode": d.DeliveryMode, "deadline": d.Deadline}})
}

func getDemand(tx *store.Tx, op, id string) (Demand, error) {
	var d Demand
	var lo, hi int64
	var cur, js, created string
	err := tx.QueryRow(`SELECT id, buyer_id, text, category, budget_min, budget_max, currency, jurisdictions, delivery_mode,
		deadline, status, created_at FROM demands WHERE id = $1`, id).Scan(&d.ID, &d.BuyerID, &d.Text, &d.Category, &lo, &hi,
		&cur, &js, &d.DeliveryMode, &d.Deadline, &d.Status, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return Demand{}, dataport.Errorf(op, dataport.KindNotFound, "no demand %s", id)
	}
	if err != nil {
		return Demand{}, dataport.Internal(op, err)
	}
	d.BudgetMin, d.BudgetMax = dataport.Money{Amount: lo, Currency: cur}, dataport.Money{Amount: hi, Currency: cur}
	json.Unmarshal([]byte(js), &d.Jurisdictions)
	d.CreatedAt, _ = store.ParseTime(created)
	return d, nil
}
