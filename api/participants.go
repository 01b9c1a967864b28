package api

import (
	"context"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/registry"
)

// participantPath is the {id} of a participant's routes. Inputs repeat the field
// rather than embed this type: huma fills only fields it can set by reflection.
type participantPath struct {
	ID string `path:"id" doc:"participant id" example:"prt_01jd3m5x8k2q7w9e4r6t1y0u3i"`
}

type participantOutput struct {
	Location string `header:"Location"`
	Body     registry.Participant
}

func (s *Server) participant(p registry.Participant, err error) (*participantOutput, error) {
	if err != nil {
		return nil, s.problem(err)
	}
	return &participantOutput{Body: p}, nil
}

type createParticipantInput struct {
	Body registry.NewParticipant
}

func (s *Server) createParticipant(ctx context.Context, in *createParticipantInput) (*participantOutput, error) {
	out, err := s.participant(s.Registry.CreateParticipant(ctx, actorOf(ctx), in.Body))
	if out != nil {
		out.Location = "/api/v1/participants/" + out.Body.ID
	}
	return out, err
}

func (s *Server) getParticipant(ctx context.Context, in *participantPath) (*participantOutput, error) {
	return s.participant(s.Registry.GetParticipant(ctx, actorOf(ctx), in.ID))
}

type listParticipantsInput struct {
	Role         string `query:"role" enum:"operator,supplier,agent,buyer,assessor,financial_institution,merchant,regulator" doc:"only participants with this role"`
	Kind         string `query:"kind" enum:"domestic,foreign"`
	Status       string `query:"status" enum:"active,suspended"`
	KYCStatus    string `query:"kyc_status" enum:"pending,verified,rejected"`
	Jurisdiction string `query:"jurisdiction" pattern:"^[A-Z]{2}$" doc:"ISO 3166-1 alpha-2"`
	Q            string `query:"q" maxLength:"100" doc:"part of the Chinese or English legal name"`
	After        string `query:"after" doc:"the next cursor of the previous page"`
	Limit        int    `query:"limit" minimum:"1" maximum:"500" default:"50"`
}

type participantList struct {
	Body struct {
		Items []registry.Participant `json:"items"`
		Next  string                 `json:"next,omitempty" doc:"pass as after= for the next page; absent on the last page"`
	}
}

func (s *Server) listParticipants(ctx context.Context, in *listParticipantsInput) (*participantList, error) {
	items, next, err := s.Registry.ListParticipants(ctx, actorOf(ctx), registry.ListFilter{
		Role: dataport.Role(in.Role), Kind: registry.Kind(in.Kind), Status: registry.Status(in.Status),
		KYCStatus: registry.KYCStatus(in.KYCStatus), Jurisdiction: in.Jurisdiction, Query: in.Q,
		After: in.After, Limit: in.Limit,
	})
	if err != nil {
		return nil, s.problem(err)
	}
	out := &participantList{}
	out.Body.Items, out.Body.Next = items, next
	if out.Body.Items == nil {
		out.Body.Items = []registry.Participant{}
	}
	return out, nil
}

type updateParticipantInput struct {
	ID   string `path:"id" doc:"participant id"`
	Body registry.ParticipantUpdate
}

func (s *Server) updateParticipant(ctx context.Context, in *updateParticipantInput) (*participantOutput, error) {
	return s.participant(s.Registry.UpdateParticipant(ctx, actorOf(ctx), in.ID, in.Body))
}

type kycInput struct {
	ID   string `path:"id" doc:"participant id"`
	Body registry.KYCReview
}

func (s *Server) reviewKYC(ctx context.Context, in *kycInput) (*participantOutput, error) {
	return s.participant(s.Registry.ReviewKYC(ctx, actorOf(ctx), in.ID, in.Body))
}

type whitelistInput struct {
	ID   string `path:"id" doc:"participant id"`
	Body registry.WhitelistEntry
}

func (s *Server) setWhitelist(ctx context.Context, in *whitelistInput) (*participantOutput, error) {
	return s.participant(s.Registry.SetWhitelist(ctx, actorOf(ctx), in.ID, in.Body))
}

type removeWhitelistInput struct {
	ID     string `path:"id" doc:"participant id"`
	Reason string `query:"reason" maxLength:"1000" doc:"why the entry is removed"`
}

func (s *Server) removeWhitelist(ctx context.Context, in *removeWhitelistInput) (*participantOutput, error) {
	return s.participant(s.Registry.RemoveWhitelist(ctx, actorOf(ctx), in.ID, in.Reason))
}

type suspendInput struct {
	ID   string `path:"id" doc:"participant id"`
	Body struct {
		Reason string `json:"reason" minLength:"1" maxLength:"1000" doc:"why the participant is stopped; filed and shown to it"`
	}
}

func (s *Server) suspend(ctx context.Context, in *suspendInput) (*participantOutput, error) {
	return s.participant(s.Registry.Suspend(ctx, actorOf(ctx), in.ID, in.Body.Reason))
}

type resumeInput struct {
	ID   string `path:"id" doc:"participant id"`
	Body struct {
		Note string `json:"note,omitempty" maxLength:"1000"`
	}
}

func (s *Server) resume(ctx context.Context, in *resumeInput) (*participantOutput, error) {
	return s.participant(s.Registry.Resume(ctx, actorOf(ctx), in.ID, in.Body.Note))
}

// API keys.

type createAPIKeyInput struct {
	ID   string `path:"id" doc:"participant id"`
	Body registry.NewAPIKey
}

type createdAPIKey struct {
	Body struct {
		Key   registry.APIKey `json:"key"`
		Token string          `json:"token" doc:"the key itself: shown this once, kept by the exchange only as a hash"`
	}
}

func (s *Server) createAPIKey(ctx context.Context, in *createAPIKeyInput) (*createdAPIKey, error) {
	k, token, err := s.Registry.CreateAPIKey(ctx, actorOf(ctx), in.ID, in.Body)
	if err != nil {
		return nil, s.problem(err)
	}
	out := &createdAPIKey{}
	out.Body.Key, out.Body.Token = k, token
	return out, nil
}

type apiKeyList struct {
	Body struct {
		Items []registry.APIKey `json:"items"`
	}
}

func (s *Server) listAPIKeys(ctx context.Context, in *participantPath) (*apiKeyList, error) {
	keys, err := s.Registry.ListAPIKeys(ctx, actorOf(ctx), in.ID)
	if err != nil {
		return nil, s.problem(err)
	}
	out := &apiKeyList{}
	out.Body.Items = append([]registry.APIKey{}, keys...)
	return out, nil
}

type keyPath struct {
	ID    string `path:"id" doc:"participant id"`
	KeyID string `path:"key_id"`
}

type apiKeyOutput struct{ Body registry.APIKey }

func (s *Server) revokeAPIKey(ctx context.Context, in *keyPath) (*apiKeyOutput, error) {
	k, err := s.Registry.RevokeAPIKey(ctx, actorOf(ctx), in.ID, in.KeyID)
	if err != nil {
		return nil, s.problem(err)
	}
	return &apiKeyOutput{Body: k}, nil
}

// Signing keys.

type addSigningKeyInput struct {
	ID   string `path:"id" doc:"participant id"`
	Body registry.NewSigningKey
}

type signingKeyOutput struct{ Body registry.SigningKey }

func (s *Server) addSigningKey(ctx context.Context, in *addSigningKeyInput) (*signingKeyOutput, error) {
	k, err := s.Registry.AddSigningKey(ctx, actorOf(ctx), in.ID, in.Body)
	if err != nil {
		return nil, s.problem(err)
	}
	return &signingKeyOutput{Body: k}, nil
}

type signingKeyList struct {
	Body struct {
		Items []registry.SigningKey `json:"items"`
	}
}

func (s *Server) listSigningKeys(ctx context.Context, in *participantPath) (*signingKeyList, error) {
	keys, err := s.Registry.ListSigningKeys(ctx, actorOf(ctx), in.ID)
	if err != nil {
		return nil, s.problem(err)
	}
	out := &signingKeyList{}
	out.Body.Items = append([]registry.SigningKey{}, keys...)
	return out, nil
}

func (s *Server) revokeSigningKey(ctx context.Context, in *keyPath) (*signingKeyOutput, error) {
	k, err := s.Registry.RevokeSigningKey(ctx, actorOf(ctx), in.ID, in.KeyID)
	if err != nil {
		return nil, s.problem(err)
	}
	return &signingKeyOutput{Body: k}, nil
}
