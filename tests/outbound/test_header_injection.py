def test_a_person_known_only_by_address_gets_no_display_name() -> None:
    from outbound.headers import format_address

    assert format_address("maria@cliente.com.br", "Maria@Cliente.com.br") == "Maria@Cliente.com.br"
    assert (
        format_address("Maria Silva", "maria@cliente.com.br")
        == "Maria Silva <maria@cliente.com.br>"
    )
