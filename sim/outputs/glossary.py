"""The glossary: every term of art the report, the workbook and the page use, defined once in plain words."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Term:
    term: str
    meaning: str


GLOSSARY = (
    Term("BAU", "Business as usual: the recruitment employers do anyway, without any programme. BAU hires are "
                "the posts filled from the open labour market."),
    Term("baseline", "The option every other is compared with (usually no programme): each change is the option "
                     "minus the baseline."),
    Term("95% CI", "95% confidence interval: the range that, over repeated runs, holds the true mean 95 times in "
                   "100. Written after the value, in brackets, with the same unit: £7,278 (£7,121 to £7,436)."),
    Term("paired", "Each option runs with the same random numbers as the baseline (the same residents, the same "
                   "leavers), so a difference shows what the option changed rather than chance."),
    Term("var_ratio", "In comparison.csv: the variance of the paired differences over that of unpaired ones. Below 1, "
                      "pairing has narrowed the interval (to about the square root of var_ratio of its width)."),
    Term("pp", "Percentage points: the difference between two percentages (40% to 42% is +2 pp, not +5%)."),
    Term("deadweight", "The residents who would have found the same job without the programme; net figures take "
                       "them out."),
    Term("displacement", "Programme hires that fill a post a business-as-usual hire would have filled: they move a "
                         "vacancy rather than add a member of staff. The fall in BAU hires measures it."),
    Term("delta method", "A standard way to put an interval on a ratio (such as a cost per job) from the intervals "
                         "of its top and bottom; the report uses Fieller's method, which stays exact when the effect "
                         "is imprecise and says 'not bounded' when the effect's interval includes zero."),
    Term("net sustained job", "A resident referred in the window who is still in post 12 months after starting, "
                              "less the deadweight."),
    Term("replication", "One run of the model with its own random numbers; results are means over replications."),
    Term("parameter set", "One draw of every uncertain number from its range (configs/ranges): the options are run "
                          "on many sets, each option of a set with the same values and the same residents."),
    Term("expected", "The mean over the parameter sets; its range in brackets holds 95% of the sets, so it carries "
                     "the uncertainty of the assumptions as well as simulation noise."),
    Term("value of an effect", "What a planner would pay for one more net sustained job or one vacancy-year "
                               "avoided (willingness to pay): the threshold the recommendation uses; the report "
                               "says whether its choice holds across a range of values."),
    Term("best buy (acceptability)", "The option with the highest net value (the effect at its value, less the "
                                     "cost, against the baseline) in a parameter set; the share of sets in which an "
                                     "option is the best buy is its chance of being the best use of the money."),
    Term("prior", "What is known about an uncertain number before the model is compared with published outcomes: "
                  "its range in configs/ranges, around the value in the files."),
    Term("posterior", "The ranges after calibration: the values of the calibrated numbers that make the model "
                      "reproduce the calibration targets, as a sample of equally likely draws "
                      "(configs/calibration/<region>/, made by pathways-calibrate). Numbers no target informs keep "
                      "their prior."),
    Term("calibration target", "A published outcome the model simulates but does not take as an input (a "
                               "programme's job outcomes, time to hire, first-year leaving; configs/targets.yaml) that "
                               "the calibration fits the uncertain numbers to: marked fitted in the report."),
    Term("validation target", "A published outcome held out of the calibration (split before it ran, never shown to "
                              "the fit), to test whether the calibrated model reproduces what it was not fitted to: "
                              "within or outside its band."),
    Term("EVPI, EVPPI", "Expected value of (partial) perfect information: what knowing every uncertain number (or one) "
                        "exactly would be worth to this decision, in pounds; estimated by regression so that "
                        "simulation noise does not count as information, with a standard error."),
)
