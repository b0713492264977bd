"""The fault suite: each scenario states its invariant and checks it from
outside the process under test; the manual's Reliability page lists them
with what was measured. `FAULTS_SCALE` scales the inputs."""
