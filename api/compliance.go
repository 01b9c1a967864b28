package api

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/dataport/dataport"
	"github.com/dataport/dataport/compliance"
)

type assessInput struct {
	Body struct {
		Facts     *compliance.Facts     `json:"facts,omitempty" doc:"inline facts, for a what-if"`
		Reference *compliance.Reference `json:"reference,omitempty" doc:"or a product (and a recipient): facts read from the catalog and registry"`
	}
}

type assessmentOutput struct {
	Body compliance.Assessment
}

func (s *Server) assess(ctx context.Context, in *assessInput) (*assessmentOutput, error) {
	const op = "api.assess"
	var a compliance.Assessment
	var err error
	switch {
	case (in.Body.Facts == nil) == (in.Body.Reference == nil):
		err = dataport.Invalid(op, dataport.FieldProblem{Field: "facts", Message: "give either facts or a reference"})
	case in.Body.Facts != nil:
		a, err = s.Compliance.WhatIf(ctx, actorOf(ctx), *in.Body.Facts)
		if fs := dataport.FieldsOf(err); len(fs) > 0 {
			ps := make([]dataport.FieldProblem, len(fs))
			for i, f := range fs {
				ps[i] = dataport.FieldProblem{Field: "facts." + f.Field, Message: f.Message}
			}
			err = dataport.Invalid(op, ps...)
		}
	default:
		a, err = s.Compliance.Assess(ctx, actorOf(ctx), s.Catalog, *in.Body.Reference)
	}
	if err != nil {
		return nil, s.problem(err)
	}
	return &assessmentOutput{Body: a}, nil
}

// uploadPackInput takes the pack's YAML as the raw body.
type uploadPackInput struct {
	RawBody []byte
}

type packOutput struct {
	Body compliance.PackInfo
}

func (s *Server) uploadPack(ctx context.Context, in *uploadPackInput) (*packOutput, error) {
	info, err := s.Compliance.UploadPack(ctx, actorOf(ctx), in.RawBody)
	if err != nil {
		return nil, s.problem(err)
	}
	return &packOutput{Body: info}, nil
}

func yamlBody(o *huma.Operation) {
	o.MaxBodyBytes = compliance.MaxPack
	o.RequestBody = &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{
		"application/yaml": {Schema: &huma.Schema{Type: "string", Description: "a rule pack"}},
	}}
}

type packsOutput struct {
	Body struct {
		Items []compliance.PackInfo `json:"items"`
	}
}

func (s *Server) listPacks(ctx context.Context, _ *struct{}) (*packsOutput, error) {
	ps, err := s.Compliance.Packs(ctx, actorOf(ctx))
	if err != nil {
		return nil, s.problem(err)
	}
	out := &packsOutput{}
	out.Body.Items = ps
	return out, nil
}

type packPath struct {
	Version string `path:"version"`
}

func (s *Server) packSource(ctx context.Context, in *packPath) (*huma.StreamResponse, error) {
	src, err := s.Compliance.PackSource(ctx, actorOf(ctx), in.Version)
	if err != nil {
		return nil, s.problem(err)
	}
	return &huma.StreamResponse{Body: func(hctx huma.Context) {
		hctx.SetHeader("Content-Type", "application/yaml; charset=utf-8")
		hctx.SetStatus(http.StatusOK)
		hctx.BodyWriter().Write(src)
	}}, nil
}

func (s *Server) activatePack(ctx context.Context, in *packPath) (*packOutput, error) {
	info, err := s.Compliance.ActivatePack(ctx, actorOf(ctx), in.Version)
	if err != nil {
		return nil, s.problem(err)
	}
	return &packOutput{Body: info}, nil
}

type recordApprovalInput struct {
	Body compliance.Approval
}

type approvalOutput struct {
	Body compliance.RecordedApproval
}

func (s *Server) recordApproval(ctx context.Context, in *recordApprovalInput) (*approvalOutput, error) {
	a, err := s.Compliance.RecordApproval(ctx, actorOf(ctx), in.Body)
	if err != nil {
		return nil, s.problem(err)
	}
	return &approvalOutput{Body: a}, nil
}

type revokeApprovalInput struct {
	ID   string `path:"id"`
	Body struct {
		Reason string `json:"reason" minLength:"1" maxLength:"1000"`
	}
}

func (s *Server) revokeApproval(ctx context.Context, in *revokeApprovalInput) (*approvalOutput, error) {
	a, err := s.Compliance.RevokeApproval(ctx, actorOf(ctx), in.ID, in.Body.Reason)
	if err != nil {
		return nil, s.problem(err)
	}
	return &approvalOutput{Body: a}, nil
}

type approvalsOutput struct {
	Body struct {
		Items []compliance.RecordedApproval `json:"items"`
	}
}

func (s *Server) participantApprovals(ctx context.Context, in *participantPath) (*approvalsOutput, error) {
	as, err := s.Compliance.Approvals(ctx, actorOf(ctx), in.ID)
	if err != nil {
		return nil, s.problem(err)
	}
	out := &approvalsOutput{}
	out.Body.Items = as
	return out, nil
}

type expiryOutput struct {
	Body struct {
		Items []compliance.Due `json:"items"`
	}
}

func (s *Server) expiryQueue(ctx context.Context, _ *struct{}) (*expiryOutput, error) {
	ds, err := s.Compliance.ExpiryQueue(ctx, actorOf(ctx))
	if err != nil {
		return nil, s.problem(err)
	}
	out := &expiryOutput{}
	out.Body.Items = ds
	return out, nil
}

type countersOutput struct {
	Body compliance.Counters
}

func (s *Server) piCounters(ctx context.Context, in *participantPath) (*countersOutput, error) {
	c, err := s.Compliance.YearToDate(ctx, actorOf(ctx), in.ID)
	if err != nil {
		return nil, s.problem(err)
	}
	return &countersOutput{Body: c}, nil
}

type agencyContractOutput struct {
	Location string `header:"Location"`
	Body     compliance.AgencyContract
}

func (s *Server) agencyContract(c compliance.AgencyContract, err error) (*agencyContractOutput, error) {
	if err != nil {
		return nil, s.problem(err)
	}
	return &agencyContractOutput{Body: c}, nil
}

type proposeContractInput struct {
	Body compliance.NewAgencyContract
}

func (s *Server) proposeContract(ctx context.Context, in *proposeContractInput) (*agencyContractOutput, error) {
	out, err := s.agencyContract(s.Compliance.ProposeContract(ctx, actorOf(ctx), in.Body))
	if out != nil {
		out.Location = "/api/v1/agency-contracts/" + out.Body.ID
	}
	return out, err
}

type contractPath struct {
	ID string `path:"id" doc:"agency contract id"`
}

func (s *Server) getContract(ctx context.Context, in *contractPath) (*agencyContractOutput, error) {
	return s.agencyContract(s.Compliance.Contract(ctx, actorOf(ctx), in.ID))
}

type signContractInput struct {
	ID   string `path:"id" doc:"agency contract id"`
	Body compliance.ContractSignature
}

func (s *Server) signContract(ctx context.Context, in *signContractInput) (*agencyContractOutput, error) {
	return s.agencyContract(s.Compliance.SignContract(ctx, actorOf(ctx), in.ID, in.Body))
}

func (s *Server) certifyContract(ctx context.Context, in *contractPath) (*agencyContractOutput, error) {
	return s.agencyContract(s.Compliance.CertifyContract(ctx, actorOf(ctx), in.ID))
}

type revokeContractInput struct {
	ID   string `path:"id" doc:"agency contract id"`
	Body struct {
		Reason string `json:"reason" minLength:"1" maxLength:"1000"`
	}
}

func (s *Server) revokeContract(ctx context.Context, in *revokeContractInput) (*agencyContractOutput, error) {
	return s.agencyContract(s.Compliance.RevokeContract(ctx, actorOf(ctx), in.ID, in.Body.Reason))
}

type contractsOutput struct {
	Body struct {
		Items []compliance.AgencyContract `json:"items"`
	}
}

func (s *Server) participantContracts(ctx context.Context, in *participantPath) (*contractsOutput, error) {
	cs, err := s.Compliance.Contracts(ctx, actorOf(ctx), in.ID)
	if err != nil {
		return nil, s.problem(err)
	}
	out := &contractsOutput{}
	out.Body.Items = cs
	return out, nil
}

func (s *Server) productAssessment(ctx context.Context, in *productPath) (*assessmentOutput, error) {
	a, err := s.Compliance.LatestAssessment(ctx, actorOf(ctx), s.Catalog, in.ID)
	if err != nil {
		return nil, s.problem(err)
	}
	return &assessmentOutput{Body: a}, nil
}
