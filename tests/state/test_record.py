from raygen.state.record import last_record, record_step, resume_point
from raygen.steps.table import STEPS

N = len(STEPS)


def test_new_run_starts_at_zero(tmp_path):
    assert resume_point(tmp_path / "record.raygen", N) == (0, 0)


def test_resume_after_last_line(tmp_path):
    rec = tmp_path / "record.raygen"
    for ii, jj in [(0, 0), (0, 1), (0, 2)]:
        record_step(rec, ii, jj)
    assert rec.read_text() == "0 0\n0 1\n0 2\n"
    assert resume_point(rec, N) == (0, 3)
    for jj in range(3, N):
        record_step(rec, 0, jj)
    assert resume_point(rec, N) == (1, 0)


def test_torn_last_line_is_ignored(tmp_path):
    rec = tmp_path / "record.raygen"
    rec.write_text("0 0\n0 1\n0 ")
    assert last_record(rec, N) == (0, 1)
    assert resume_point(rec, N) == (0, 2)


def test_the_step_table_is_dpgens_nine_steps():
    assert [s.name for s in STEPS] == [
        f"{kind}_{phase}" for phase in ("train", "model_devi", "fp")
        for kind in ("make", "run", "post")]
