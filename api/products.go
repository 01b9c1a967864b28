package api

import (
	"context"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/catalog"
)

type productOutput struct {
	Location string `header:"Location"`
	Body     catalog.Product
}

func (s *Server) product(p catalog.Product, err error) (*productOutput, error) {
	if err != nil {
		return nil, s.problem(err)
	}
	return &productOutput{Body: p}, nil
}

type createProductInput struct {
	Body catalog.NewProduct
}

// harvestedOnly refuses the harvest's origin record from clients: only the harvest
// says a product came from a platform.
func (s *Server) harvestedOnly(d *catalog.Details) error {
	if d.Harvested != nil {
		return s.problem(dataport.Invalid("api.product", dataport.FieldProblem{Field: "details.harvested", Message: "set by the harvest of a platform, not by clients"}))
	}
	return nil
}

func (s *Server) createProduct(ctx context.Context, in *createProductInput) (*productOutput, error) {
	if err := s.harvestedOnly(&in.Body.Details); err != nil {
		return nil, err
	}
	out, err := s.product(s.Catalog.Create(ctx, actorOf(ctx), in.Body))
	if out != nil {
		out.Location = "/api/v1/products/" + out.Body.ID
	}
	return out, err
}

type productPath struct {
	ID string `path:"id" doc:"product id"`
}

func (s *Server) getProduct(ctx context.Context, in *productPath) (*productOutput, error) {
	return s.product(s.Catalog.Get(ctx, actorOf(ctx), in.ID))
}

type reviseProductInput struct {
	ID   string `path:"id" doc:"product id"`
	Body catalog.Details
}

func (s *Server) reviseProduct(ctx context.Context, in *reviseProductInput) (*productOutput, error) {
	if err := s.harvestedOnly(&in.Body); err != nil {
		return nil, err
	}
	return s.product(s.Catalog.Revise(ctx, actorOf(ctx), in.ID, in.Body))
}

type revisionsOutput struct {
	Body struct {
		Items []catalog.Revision `json:"items"`
	}
}

func (s *Server) productRevisions(ctx context.Context, in *productPath) (*revisionsOutput, error) {
	rs, err := s.Catalog.Revisions(ctx, actorOf(ctx), in.ID)
	if err != nil {
		return nil, s.problem(err)
	}
	out := &revisionsOutput{}
	out.Body.Items = append([]catalog.Revision{}, rs...)
	return out, nil
}

func (s *Server) submitProduct(ctx context.Context, in *productPath) (*productOutput, error) {
	return s.product(s.Catalog.Submit(ctx, actorOf(ctx), in.ID))
}

func (s *Server) reviewProduct(ctx context.Context, in *productPath) (*productOutput, error) {
	return s.product(s.Catalog.StartReview(ctx, actorOf(ctx), in.ID))
}

func (s *Server) approveProduct(ctx context.Context, in *productPath) (*productOutput, error) {
	return s.product(s.Catalog.Approve(ctx, actorOf(ctx), in.ID))
}

type rejectProductInput struct {
	ID   string `path:"id" doc:"product id"`
	Body struct {
		Reasons []string `json:"reasons" minItems:"1" maxItems:"50" doc:"why the product is not listed; shown to its supplier"`
	}
}

func (s *Server) rejectProduct(ctx context.Context, in *rejectProductInput) (*productOutput, error) {
	return s.product(s.Catalog.Reject(ctx, actorOf(ctx), in.ID, in.Body.Reasons))
}

type suspendProductInput struct {
	ID   string `path:"id" doc:"product id"`
	Body struct {
		Reason string `json:"reason" minLength:"1" maxLength:"1000"`
	}
}

func (s *Server) suspendProduct(ctx context.Context, in *suspendProductInput) (*productOutput, error) {
	return s.product(s.Catalog.Suspend(ctx, actorOf(ctx), in.ID, in.Body.Reason))
}

func (s *Server) resumeProduct(ctx context.Context, in *productPath) (*productOutput, error) {
	return s.product(s.Catalog.Resume(ctx, actorOf(ctx), in.ID))
}

func (s *Server) delistProduct(ctx context.Context, in *productPath) (*productOutput, error) {
	return s.product(s.Catalog.Delist(ctx, actorOf(ctx), in.ID))
}

type searchProductsInput struct {
	Q            string `query:"q" maxLength:"200" doc:"words in Chinese and/or English; every term must match"`
	Type         string `query:"type" enum:"dataset,api,report,model,service,tool"`
	Category     string `query:"category" maxLength:"64"`
	Jurisdiction string `query:"jurisdiction" pattern:"^[A-Z]{2}$" doc:"origin jurisdiction"`
	Grade        string `query:"grade" enum:"core,important,general"`
	Supplier     string `query:"supplier" doc:"supplier participant id"`
	DeliveryMode string `query:"delivery_mode" enum:"file,api,privacy_computing,sandbox,model_output"`
	Currency     string `query:"currency" pattern:"^[A-Z]{3}$" doc:"with price_min/price_max"`
	PriceMin     int64  `query:"price_min" minimum:"0" doc:"lowest plan price at least this, minor units"`
	PriceMax     int64  `query:"price_max" minimum:"0" doc:"lowest plan price at most this, minor units"`
	Sort         string `query:"sort" enum:"relevance,newest"`
	After        string `query:"after" doc:"the next cursor of the previous page"`
	Limit        int    `query:"limit" minimum:"1" maximum:"100" default:"20"`
}

type searchProductsOutput struct {
	Body catalog.SearchResult
}

func (s *Server) searchProducts(ctx context.Context, in *searchProductsInput) (*searchProductsOutput, error) {
	res, err := s.Catalog.Search(ctx, actorOf(ctx), catalog.SearchQuery{Q: in.Q, Type: in.Type, Category: in.Category,
		Jurisdiction: in.Jurisdiction, Grade: in.Grade, SupplierID: in.Supplier, DeliveryMode: in.DeliveryMode,
		Currency: in.Currency, PriceMin: in.PriceMin, PriceMax: in.PriceMax, Sort: in.Sort, After: in.After, Limit: in.Limit})
	if err != nil {
		return nil, s.problem(err)
	}
	return &searchProductsOutput{Body: res}, nil
}

type postDemandInput struct {
	Body catalog.NewDemand
}

type demandOutput struct {
	Body catalog.Demand
}

func (s *Server) postDemand(ctx context.Context, in *postDemandInput) (*demandOutput, error) {
	d, err := s.Catalog.PostDemand(ctx, actorOf(ctx), in.Body)
	if err != nil {
		return nil, s.problem(err)
	}
	return &demandOutput{Body: d}, nil
}

type demandPath struct {
	ID    string `path:"id" doc:"demand id"`
	Limit int    `query:"limit" minimum:"1" maximum:"100" default:"20"`
}

type matchesOutput struct {
	Body struct {
		Items []catalog.Match `json:"items"`
	}
}

func (s *Server) demandMatches(ctx context.Context, in *demandPath) (*matchesOutput, error) {
	ms, err := s.Catalog.Matches(ctx, actorOf(ctx), in.ID, in.Limit)
	if err != nil {
		return nil, s.problem(err)
	}
	out := &matchesOutput{}
	out.Body.Items = append([]catalog.Match{}, ms...)
	return out, nil
}

type makeQuoteInput struct {
	ID   string `path:"id" doc:"demand id"`
	Body catalog.NewQuote
}

type quoteOutput struct{ Body catalog.Quote }

func (s *Server) makeQuote(ctx context.Context, in *makeQuoteInput) (*quoteOutput, error) {
	q, err := s.Catalog.MakeQuote(ctx, actorOf(ctx), in.ID, in.Body)
	if err != nil {
		return nil, s.problem(err)
	}
	return &quoteOutput{Body: q}, nil
}

type quotesOutput struct {
	Body struct {
		Items []catalog.Quote `json:"items"`
	}
}

func (s *Server) demandQuotes(ctx context.Context, in *demandPath) (*quotesOutput, error) {
	qs, err := s.Catalog.Quotes(ctx, actorOf(ctx), in.ID)
	if err != nil {
		return nil, s.problem(err)
	}
	out := &quotesOutput{}
	out.Body.Items = append([]catalog.Quote{}, qs...)
	return out, nil
}

type quotePath struct {
	ID string `path:"id" doc:"quote id"`
}

func (s *Server) acceptQuote(ctx context.Context, in *quotePath) (*quoteOutput, error) {
	q, err := s.Catalog.DecideQuote(ctx, actorOf(ctx), in.ID, true)
	if err != nil {
		return nil, s.problem(err)
	}
	return &quoteOutput{Body: q}, nil
}

func (s *Server) declineQuote(ctx context.Context, in *quotePath) (*quoteOutput, error) {
	q, err := s.Catalog.DecideQuote(ctx, actorOf(ctx), in.ID, false)
	if err != nil {
		return nil, s.problem(err)
	}
	return &quoteOutput{Body: q}, nil
}

type closeDemandInput struct {
	ID string `path:"id" doc:"demand id"`
}

func (s *Server) closeDemand(ctx context.Context, in *closeDemandInput) (*demandOutput, error) {
	d, err := s.Catalog.CloseDemand(ctx, actorOf(ctx), in.ID)
	if err != nil {
		return nil, s.problem(err)
	}
	return &demandOutput{Body: d}, nil
}

// CertificateKind is the first line of a signed registration certificate.
const CertificateKind = "dataport registration certificate v1"

type certificateOutput struct {
	Body struct {
		catalog.ListingCertificate
		SignedNote  string `json:"signed_note" doc:"the certificate as a signed note: the kind line, the canonical JSON, and the exchange's Ed25519 signature; check it with the log's verifier key"`
		VerifierKey string `json:"verifier_key" doc:"the exchange's public key (the log's verifier key, as served with /log/checkpoint)"`
	}
}

func (s *Server) productCertificate(ctx context.Context, in *productPath) (*certificateOutput, error) {
	cert, err := s.Catalog.Certificate(ctx, actorOf(ctx), in.ID)
	if err != nil {
		return nil, s.problem(err)
	}
	if s.Log == nil {
		return nil, s.problem(dataport.Errorf("api.productCertificate", dataport.KindUnavailable, "the exchange's signing key is not configured"))
	}
	signed, err := s.Log.SignStatement(CertificateKind, []byte(cert.Canonical))
	if err != nil {
		return nil, s.problem(err)
	}
	out := &certificateOutput{}
	out.Body.ListingCertificate = cert
	out.Body.SignedNote, out.Body.VerifierKey = string(signed), s.Log.VerifierKey()
	return out, nil
}

type reviewQueueInput struct {
	After string `query:"after" doc:"the next cursor of the previous page"`
	Limit int    `query:"limit" minimum:"1" maximum:"200" default:"50"`
}

type productPageOutput struct {
	Body catalog.ProductPage
}

func (s *Server) reviewQueue(ctx context.Context, in *reviewQueueInput) (*productPageOutput, error) {
	page, err := s.Catalog.ReviewQueue(ctx, actorOf(ctx), in.After, in.Limit)
	if err != nil {
		return nil, s.problem(err)
	}
	return &productPageOutput{Body: page}, nil
}

type participantProductsInput struct {
	ID     string `path:"id" doc:"participant id"`
	Status string `query:"status" enum:"draft,submitted,under_review,listed,rejected,suspended,delisted"`
	After  string `query:"after" doc:"the next cursor of the previous page"`
	Limit  int    `query:"limit" minimum:"1" maximum:"200" default:"50"`
}

func (s *Server) participantProducts(ctx context.Context, in *participantProductsInput) (*productPageOutput, error) {
	page, err := s.Catalog.ProductsOf(ctx, actorOf(ctx), in.ID, in.Status, in.After, in.Limit)
	if err != nil {
		return nil, s.problem(err)
	}
	return &productPageOutput{Body: page}, nil
}
