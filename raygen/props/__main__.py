"""``python -m raygen.props <run or models dir> [--out DIR] [Hydra overrides]``

Property tests of an ensemble against the reference labeler (the run's own,
``label=...`` to change it), e.g.::

    python -m raygen.props cu_run
    python -m raygen.props cu_run 'props.properties=[eos,elastic]' 'props.phases=[fcc,bcc]'
    python -m raygen.props my_models/ label=emt --out props_emt

Writes props.json, props.md and PNGs into ``<run>/props`` (or ``--out``); results
are cached by content there, so a rerun computes only what changed.
"""

from __future__ import annotations

import logging
import sys


def main(argv: list[str] | None = None) -> int:
    from raygen.props.run import (
        default_out,
        element_of,
        find_models,
        main_args,
        props_for_run,
        run_props,
        summary_markdown,
    )

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    path, out, overrides = main_args(list(sys.argv[1:] if argv is None else argv))
    try:
        models = find_models(path)
        props, label, type_map = props_for_run(path if (path / "models").exists()
                                               else path.parent, overrides)
        element = element_of(props, type_map)
        record = run_props(models, props, label, element, out or default_out(path))
    except ValueError as err:
        print(f"raygen.props: {err}", file=sys.stderr)
        return 2
    except Exception as err:  # noqa: BLE001 - Hydra's composition errors name the key
        if type(err).__module__.startswith(("hydra", "omegaconf")):
            print(f"raygen.props: {err}", file=sys.stderr)
            return 2
        raise
    print(summary_markdown(record))
    return 0


if __name__ == "__main__":
    sys.exit(main())
