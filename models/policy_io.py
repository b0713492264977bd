"""Input of the policy-loading activity."""

from pydantic import BaseModel, Field


class LoadPolicyInput(BaseModel):
    name: str = Field(min_length=1)
