package api

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/dataport/dataport"
	"github.com/dataport/dataport/lending"
)

// Finance, part three: lending (融资). A merchant consents to share its credit
// data with institutions it names; an institution subscribes with its terms and
// CEL decision rules; each matching credit decision becomes an offer, pushed as a
// signed webhook and pulled here; the merchant applies and is answered at once.
// Who may see what is the lending service's business (each side its own records;
// a record the caller may not see does not exist for it): these handlers decode,
// call and encode.

// lendingListAt locates problems with a list's paging and filters in the query.
var lendingListAt = map[string]string{"after": "query.after", "after_seq": "query.after_seq", "limit": "query.limit",
	"status": "query.status", "product": "query.product", "outcome": "query.outcome"}

// nextAfter is the cursor after a page of items (lending's lists run in id order):
// the last id when the page is full (there may be more), none otherwise.
func nextAfter[T any](items []T, limit int, id func(T) string) string {
	if len(items) == 0 || len(items) < limit {
		return ""
	}
	return id(items[len(items)-1])
}

// Consents (授權同意).

type consentOutput struct {
	Location string `header:"Location"`
	Body     lending.Consent
}

type grantConsentInput struct {
	ID   string `path:"id" doc:"the merchant's participant id: the caller's own"`
	Body lending.NewConsent
}

func (s *Server) grantConsent(ctx context.Context, in *grantConsentInput) (*consentOutput, error) {
	c, err := s.Lending.GrantConsent(ctx, actorOf(ctx), in.ID, in.Body)
	if err != nil {
		return nil, s.problem(err)
	}
	return &consentOutput{Location: "/api/v1/consents/" + c.ID, Body: c}, nil
}

type consentsInput struct {
	MerchantID    string `query:"merchant_id" doc:"only this merchant's consents"`
	InstitutionID string `query:"institution_id" doc:"only consents naming this institution"`
	After         string `query:"after" doc:"only records after this id: the next cursor of the previous page"`
	Limit         int    `query:"limit" minimum:"1" maximum:"1000" default:"100"`
}

type consentsOutput struct {
	Body struct {
		Items []lending.Consent `json:"items"`
		Next  string            `json:"next,omitempty" doc:"pass as after= for the next page; absent on the last page"`
	}
}

func (s *Server) listConsents(ctx context.Context, in *consentsInput) (*consentsOutput, error) {
	cs, err := s.Lending.Consents(ctx, actorOf(ctx), lending.ConsentFilter{MerchantID: in.MerchantID,
		InstitutionID: in.InstitutionID, After: in.After, Limit: in.Limit})
	if err != nil {
		return nil, s.problemAt(err, lendingListAt)
	}
	out := &consentsOutput{}
	out.Body.Items, out.Body.Next = cs, nextAfter(cs, in.Limit, func(c lending.Consent) string { return c.ID })
	return out, nil
}

type consentPath struct {
	ID string `path:"id" doc:"the consent's id (cns_…)"`
}

func (s *Server) getConsent(ctx context.Context, in *consentPath) (*consentOutput, error) {
	c, err := s.Lending.Consent(ctx, actorOf(ctx), in.ID)
	if err != nil {
		return nil, s.problem(err)
	}
	return &consentOutput{Body: c}, nil
}

type revokeConsentInput struct {
	ID string `path:"id" doc:"the consent's id (cns_…)"`
	// A pointer: the reason is optional, and so is a body at all.
	Body *struct {
		Reason string `json:"reason,omitempty" maxLength:"1000" doc:"why, for the institutions and the log"`
	}
}

func (s *Server) revokeConsent(ctx context.Context, in *revokeConsentInput) (*consentOutput, error) {
	reason := ""
	if in.Body != nil {
		reason = in.Body.Reason
	}
	c, err := s.Lending.RevokeConsent(ctx, actorOf(ctx), in.ID, reason)
	if err != nil {
		return nil, s.problem(err)
	}
	return &consentOutput{Body: c}, nil
}

// Subscriptions: an institution's criteria, terms and decision rules.

type subscriptionOutput struct {
	Location string `header:"Location"`
	Body     lending.Subscription
}

func (s *Server) subscription(sub lending.Subscription, err error) (*subscriptionOutput, error) {
	if err != nil {
		return nil, s.problem(err)
	}
	return &subscriptionOutput{Body: sub}, nil
}

type createSubscriptionInput struct {
	Body lending.NewSubscription
}

func (s *Server) createSubscription(ctx context.Context, in *createSubscriptionInput) (*subscriptionOutput, error) {
	out, err := s.subscription(s.Lending.CreateSubscription(ctx, actorOf(ctx), in.Body))
	if out != nil {
		out.Location = "/api/v1/subscriptions/" + out.Body.ID
	}
	return out, err
}

type subscriptionsInput struct {
	InstitutionID string `query:"institution_id" doc:"only this institution's (the operator and regulators; an institution sees its own only)"`
	Status        string `query:"status" enum:"active,paused,cancelled"`
	After         string `query:"after" doc:"only records after this id: the next cursor of the previous page"`
	Limit         int    `query:"limit" minimum:"1" maximum:"1000" default:"100"`
}

type subscriptionsOutput struct {
	Body struct {
		Items []lending.Subscription `json:"items"`
		Next  string                 `json:"next,omitempty" doc:"pass as after= for the next page; absent on the last page"`
	}
}

func (s *Server) listSubscriptions(ctx context.Context, in *subscriptionsInput) (*subscriptionsOutput, error) {
	subs, err := s.Lending.Subscriptions(ctx, actorOf(ctx), lending.SubscriptionFilter{InstitutionID: in.InstitutionID,
		Status: in.Status, After: in.After, Limit: in.Limit})
	if err != nil {
		return nil, s.problemAt(err, lendingListAt)
	}
	out := &subscriptionsOutput{}
	out.Body.Items, out.Body.Next = subs, nextAfter(subs, in.Limit, func(sub lending.Subscription) string { return sub.ID })
	return out, nil
}

type subscriptionPath struct {
	ID string `path:"id" doc:"the subscription's id (sub_…)"`
}

func (s *Server) getSubscription(ctx context.Context, in *subscriptionPath) (*subscriptionOutput, error) {
	return s.subscription(s.Lending.Subscription(ctx, actorOf(ctx), in.ID))
}

type setRulesInput struct {
	ID   string `path:"id" doc:"the subscription's id (sub_…)"`
	Body struct {
		Rules []lending.Rule `json:"rules" maxItems:"50" doc:"every rule an application must meet; an empty list approves every application within its offer"`
	}
}

func (s *Server) setRules(ctx context.Context, in *setRulesInput) (*subscriptionOutput, error) {
	return s.subscription(s.Lending.SetRules(ctx, actorOf(ctx), in.ID, in.Body.Rules))
}

func (s *Server) pauseSubscription(ctx context.Context, in *subscriptionPath) (*subscriptionOutput, error) {
	return s.subscription(s.Lending.PauseSubscription(ctx, actorOf(ctx), in.ID))
}

func (s *Server) resumeSubscription(ctx context.Context, in *subscriptionPath) (*subscriptionOutput, error) {
	return s.subscription(s.Lending.ResumeSubscription(ctx, actorOf(ctx), in.ID))
}

func (s *Server) cancelSubscription(ctx context.Context, in *subscriptionPath) (*subscriptionOutput, error) {
	return s.subscription(s.Lending.CancelSubscription(ctx, actorOf(ctx), in.ID))
}

// Offers (融資報價): the pull side of the lending.offer webhooks. They are listed
// in the order of their latest change (change_seq, a filing seq), the one order
// in which a poller misses nothing: ids are not commit-ordered.

type offersInput struct {
	MerchantID    string `query:"merchant_id"`
	InstitutionID string `query:"institution_id"`
	Product       string `query:"product" enum:"order_financing,procurement_financing,credit_sales,ad_spend_loan"`
	Status        string `query:"status" enum:"open,taken,superseded,withdrawn,expired" doc:"open: open, unexpired and the merchant active. To poll for changes, filter by none: an offer that leaves the status is not listed again"`
	AfterSeq      int64  `query:"after_seq" minimum:"0" doc:"only offers whose latest change was filed after this seq: the next_seq of the previous answer (0 or absent: from the start)"`
	Limit         int    `query:"limit" minimum:"1" maximum:"1000" default:"100"`
}

type offersOutput struct {
	Body struct {
		Items   []lending.Offer `json:"items"`
		NextSeq int64           `json:"next_seq" doc:"pass as after_seq= next: the change_seq of the last offer listed, or after_seq itself when none was. Polling with it never misses a new offer, a withdrawal, a supersession or a take"`
	}
}

func (s *Server) listOffers(ctx context.Context, in *offersInput) (*offersOutput, error) {
	offers, err := s.Lending.Offers(ctx, actorOf(ctx), lending.OfferFilter{MerchantID: in.MerchantID, InstitutionID: in.InstitutionID,
		Product: lending.Product(in.Product), Status: in.Status, AfterSeq: in.AfterSeq, Limit: in.Limit})
	if err != nil {
		return nil, s.problemAt(err, lendingListAt)
	}
	out := &offersOutput{}
	out.Body.Items, out.Body.NextSeq = offers, in.AfterSeq
	if len(offers) > 0 {
		out.Body.NextSeq = offers[len(offers)-1].ChangeSeq
	}
	return out, nil
}

type offerPath struct {
	ID string `path:"id" doc:"the offer's id (ofr_…)"`
}

type offerOutput struct {
	Body lending.Offer
}

func (s *Server) getOffer(ctx context.Context, in *offerPath) (*offerOutput, error) {
	o, err := s.Lending.Offer(ctx, actorOf(ctx), in.ID)
	if err != nil {
		return nil, s.problem(err)
	}
	return &offerOutput{Body: o}, nil
}

// Applications (申請) and their instant decisions (決策).

// newApplication is what a merchant applies with. The idempotency key travels
// in the Idempotency-Key header, as for the exchange's other money moves, not in
// the body.
type newApplication struct {
	Amount   dataport.Money `json:"amount" doc:"to borrow, minor units: at most the offer's amount, in its currency (CNY)"`
	TermDays int            `json:"term_days,omitempty" minimum:"0" maximum:"365" doc:"at most the offer's term; the offer's term when 0 or absent"`
	Purpose  string         `json:"purpose,omitempty" maxLength:"500"`
}

type applyInput struct {
	ID   string `path:"id" doc:"the offer's id (ofr_…)"`
	Key  string `header:"Idempotency-Key" maxLength:"200" doc:"a retry with the same key and the same request answers 200 with the first application and changes nothing; the key with another request is a conflict"`
	Body newApplication
}

type applicationOutput struct {
	Status   int
	Location string `header:"Location"`
	Body     lending.Application
}

// applyAt locates the key's problems in its header.
var applyAt = map[string]string{"idempotency_key": "header.Idempotency-Key"}

// apply answers 201 with a new decision, 200 with the first application when
// Apply reports a replay of the key (a retry, or a twin racing it).
func (s *Server) apply(ctx context.Context, in *applyInput) (*applicationOutput, error) {
	a, replayed, err := s.Lending.Apply(ctx, actorOf(ctx), in.ID, lending.NewApplication{Amount: in.Body.Amount,
		TermDays: in.Body.TermDays, Purpose: in.Body.Purpose, IdempotencyKey: in.Key})
	if err != nil {
		return nil, s.problemAt(err, applyAt)
	}
	status := http.StatusCreated
	if replayed {
		status = http.StatusOK
	}
	return &applicationOutput{Status: status, Location: "/api/v1/applications/" + a.ID, Body: a}, nil
}

// applyResponses documents the retry's 200 beside the new decision's 201.
func applyResponses(o *huma.Operation) {
	o.Responses = map[string]*huma.Response{"200": {
		Description: "A retry with the same Idempotency-Key: the first application, as it was decided",
		Content:     map[string]*huma.MediaType{"application/json": {Schema: &huma.Schema{Ref: "#/components/schemas/Application"}}},
	}}
}

type applicationsInput struct {
	MerchantID    string `query:"merchant_id"`
	InstitutionID string `query:"institution_id"`
	OfferID       string `query:"offer_id"`
	Outcome       string `query:"outcome" enum:"approved,declined"`
	After         string `query:"after" doc:"only records after this id: the next cursor of the previous page"`
	Limit         int    `query:"limit" minimum:"1" maximum:"1000" default:"100"`
}

type applicationsOutput struct {
	Body struct {
		Items []lending.Application `json:"items"`
		Next  string                `json:"next,omitempty" doc:"pass as after= for the next page; absent on the last page"`
	}
}

func (s *Server) listApplications(ctx context.Context, in *applicationsInput) (*applicationsOutput, error) {
	as, err := s.Lending.Applications(ctx, actorOf(ctx), lending.ApplicationFilter{MerchantID: in.MerchantID,
		InstitutionID: in.InstitutionID, OfferID: in.OfferID, Outcome: in.Outcome, After: in.After, Limit: in.Limit})
	if err != nil {
		return nil, s.problemAt(err, lendingListAt)
	}
	out := &applicationsOutput{}
	out.Body.Items, out.Body.Next = as, nextAfter(as, in.Limit, func(a lending.Application) string { return a.ID })
	return out, nil
}

type applicationPath struct {
	ID string `path:"id" doc:"the application's id (app_…)"`
}

type oneApplicationOutput struct {
	Body lending.Application
}

func (s *Server) getApplication(ctx context.Context, in *applicationPath) (*oneApplicationOutput, error) {
	a, err := s.Lending.Application(ctx, actorOf(ctx), in.ID)
	if err != nil {
		return nil, s.problem(err)
	}
	return &oneApplicationOutput{Body: a}, nil
}

// Loans (放款), repayments (還款) and an institution's portfolio.

type loansInput struct {
	MerchantID    string `query:"merchant_id"`
	InstitutionID string `query:"institution_id"`
	Product       string `query:"product" enum:"order_financing,procurement_financing,credit_sales,ad_spend_loan"`
	Status        string `query:"status" enum:"active,overdue,closed"`
	After         string `query:"after" doc:"only records after this id: the next cursor of the previous page"`
	Limit         int    `query:"limit" minimum:"1" maximum:"1000" default:"100"`
}

type loansOutput struct {
	Body struct {
		Items []lending.Loan `json:"items"`
		Next  string         `json:"next,omitempty" doc:"pass as after= for the next page; absent on the last page"`
	}
}

func (s *Server) listLoans(ctx context.Context, in *loansInput) (*loansOutput, error) {
	ls, err := s.Lending.Loans(ctx, actorOf(ctx), lending.LoanFilter{MerchantID: in.MerchantID, InstitutionID: in.InstitutionID,
		Product: lending.Product(in.Product), Status: in.Status, After: in.After, Limit: in.Limit})
	if err != nil {
		return nil, s.problemAt(err, lendingListAt)
	}
	out := &loansOutput{}
	out.Body.Items, out.Body.Next = ls, nextAfter(ls, in.Limit, func(l lending.Loan) string { return l.ID })
	return out, nil
}

type loanPath struct {
	ID string `path:"id" doc:"the loan's id (lon_…)"`
}

type loanOutput struct {
	Body lending.Loan
}

func (s *Server) getLoan(ctx context.Context, in *loanPath) (*loanOutput, error) {
	l, err := s.Lending.Loan(ctx, actorOf(ctx), in.ID)
	if err != nil {
		return nil, s.problem(err)
	}
	return &loanOutput{Body: l}, nil
}

type repaymentsInput struct {
	ID    string `path:"id" doc:"the loan's id (lon_…)"`
	After string `query:"after" doc:"only records after this id: the next cursor of the previous page"`
	Limit int    `query:"limit" minimum:"1" maximum:"1000" default:"100"`
}

type repaymentsOutput struct {
	Body struct {
		Items []lending.Repayment `json:"items"`
		Next  string              `json:"next,omitempty" doc:"pass as after= for the next page; absent on the last page"`
	}
}

func (s *Server) loanRepayments(ctx context.Context, in *repaymentsInput) (*repaymentsOutput, error) {
	actor := actorOf(ctx)
	// The loan first: Repayments filters what the caller may not see out of the
	// list, where a loan it may not see must not exist (404), as on GET /loans/{id}.
	if _, err := s.Lending.Loan(ctx, actor, in.ID); err != nil {
		return nil, s.problem(err)
	}
	rs, err := s.Lending.Repayments(ctx, actor, lending.RepaymentFilter{LoanID: in.ID, After: in.After, Limit: in.Limit})
	if err != nil {
		return nil, s.problemAt(err, lendingListAt)
	}
	out := &repaymentsOutput{}
	out.Body.Items, out.Body.Next = rs, nextAfter(rs, in.Limit, func(r lending.Repayment) string { return r.ID })
	return out, nil
}

type institutionPath struct {
	ID string `path:"id" doc:"the financial institution's participant id"`
}

type portfolioOutput struct {
	Body lending.Portfolio
}

func (s *Server) portfolio(ctx context.Context, in *institutionPath) (*portfolioOutput, error) {
	p, err := s.Lending.Portfolio(ctx, actorOf(ctx), in.ID)
	if err != nil {
		return nil, s.problem(err)
	}
	return &portfolioOutput{Body: p}, nil
}
