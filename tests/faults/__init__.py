"""The fault suite (issue 10): each scenario states its invariant and checks
it from outside the process under test. See tests/faults/README in
docs/readme-issue-10.md; `FAULTS_SCALE` scales the inputs."""
