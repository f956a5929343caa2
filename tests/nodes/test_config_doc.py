from nodes.config_doc import DOC, render


def test_configuration_doc_matches_the_settings_definitions():
    assert DOC.read_text(encoding="utf-8") == render(), "run: python -m nodes.config_doc"
