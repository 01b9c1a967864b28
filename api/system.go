package api

import (
	"context"
	"fmt"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/registry"
)

type statusBody struct {
	Status string `json:"status" example:"ok"`
	Detail string `json:"detail,omitempty"`
}

type statusOutput struct{ Body statusBody }

func (s *Server) healthz(ctx context.Context, _ *struct{}) (*statusOutput, error) {
	return &statusOutput{Body: statusBody{Status: "ok"}}, nil
}

func (s *Server) readyz(ctx context.Context, _ *struct{}) (*statusOutput, error) {
	if err := s.DB.Ping(ctx); err != nil {
		return nil, s.problem(err)
	}
	v, err := s.DB.SchemaVersion(ctx)
	if err != nil {
		return nil, s.problem(err)
	}
	if want := s.DB.LatestSchemaVersion(); v < want {
		return nil, s.problem(dataport.Errorf("api.readyz", dataport.KindUnavailable, "schema at %d, binary needs %d", v, want))
	}
	return &statusOutput{Body: statusBody{Status: "ready", Detail: fmt.Sprintf("%s, schema %d", s.DB.Engine(), v)}}, nil
}

type versionOutput struct {
	Body struct {
		Version string `json:"version"`
	}
}

func (s *Server) version(ctx context.Context, _ *struct{}) (*versionOutput, error) {
	out := &versionOutput{}
	out.Body.Version = s.Version
	return out, nil
}

type meOutput struct {
	Body struct {
		Participant registry.Participant `json:"participant"`
		KeyID       string               `json:"key_id"`
		Roles       []dataport.Role      `json:"roles" doc:"the roles this key acts in"`
	}
}

func (s *Server) me(ctx context.Context, _ *struct{}) (*meOutput, error) {
	actor := actorOf(ctx)
	p, err := s.Registry.GetParticipant(ctx, actor, actor.ParticipantID)
	if err != nil {
		return nil, s.problem(err)
	}
	out := &meOutput{}
	out.Body.Participant, out.Body.KeyID, out.Body.Roles = p, actor.KeyID, actor.Roles
	return out, nil
}
