"""Tools for people who write their own SOP as a policy pack.

`ticketflow pack schema` writes the JSON Schema that editors use to
complete and underline a pack as it is typed; `ticketflow pack check`
reports every mistake of a pack at once, each with its file, line and
column and a hint; `ticketflow pack new` writes a commented starter pack.

Nothing here runs a ticket: it reads packs the way `engine.policy_loader`
does and knows what the engine produces (`packtools.vocabulary`), so a
pack that passes the check loads and means what its author thinks.
"""
