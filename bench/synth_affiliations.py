"""Synthetic institution affiliation strings, one free-text column, heavy-tailed entity sizes.

Institutions appear a rank-size (Zipf) number of times: with 2,300 records about 330 institutions, the
largest ~45 records, many 1-5. A record is one author's affiliation line as a paper printed it:

- a department, faculty, lab or clinic in front ("Dept. of Physics, ", "Laboratoire de Chimie, ") or after
  the institution, in English or the local language;
- the institution's name in full, another English name, the local name ("Universität Wien" / "University
  of Vienna"), an acronym (MIT, UCL, CNRS, "ETH Zürich"), words abbreviated (Univ., Inst., Tech.), parts
  reordered ("Berkeley, University of California"), accents lost, a typo;
- city, postcode, street and country in the country's postal style ("Cambridge, MA 02139, USA",
  "D-80333 München") or any part missing;
- noise: an e-mail address, a footnote mark, a second affiliation joined by "and" (the truth is the first).

The institutions are real or shaped like real ones, so the hard non-matches are too: others in the same city
("University of Cambridge", "Cambridge University Hospitals", "Anglia Ruskin University"), numbered or
serial names ("University of Paris 6" / "Paris 11", "Max Planck Institute for Physics" / "for Plasma
Physics", "Institute of Physics, Chinese Academy of Sciences" / "of Chemistry"), shared words ("University
of Washington" / "Washington University in St. Louis"), shared acronyms (UCL). Deterministic for a seed.

    .venv/bin/python -m bench.synth_affiliations --records 2300 --out affiliations.csv
"""

from __future__ import annotations

import re
import sys
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

from bench.common import generator_main, shuffled_records
from bench.synth_orgs import _pick, _typo, entity_sizes

LANGS = ["en", "de", "fr", "it", "es", "nl", "sv"]
# key: (spellings, English first; country; US state / Canadian province; postcode prefix; language;
# kinds of made-up institutions the city may get: u university, h university hospital, a applied sciences)
CITIES: dict[str, tuple[list[str], str, str, str, str, str]] = {
    "Cambridge": (["Cambridge"], "GB", "", "CB2", "en", ""),
    "Oxford": (["Oxford"], "GB", "", "OX3", "en", ""),
    "London": (["London"], "GB", "", "WC1E", "en", "a"),
    "Manchester": (["Manchester"], "GB", "", "M13", "en", "h"),
    "Edinburgh": (["Edinburgh"], "GB", "", "EH8", "en", "h"),
    "Glasgow": (["Glasgow"], "GB", "", "G12", "en", "ha"),
    "Bristol": (["Bristol"], "GB", "", "BS8", "en", "h"),
    "Birmingham": (["Birmingham"], "GB", "", "B15", "en", "h"),
    "Leeds": (["Leeds"], "GB", "", "LS2", "en", "h"),
    "Sheffield": (["Sheffield"], "GB", "", "S10", "en", "h"),
    "Cardiff": (["Cardiff"], "GB", "", "CF10", "en", "a"),
    "Cambridge MA": (["Cambridge"], "US", "MA", "021", "en", ""),
    "Boston": (["Boston"], "US", "MA", "021", "en", "a"),
    "Seattle": (["Seattle"], "US", "WA", "981", "en", "ha"),
    "Pullman": (["Pullman"], "US", "WA", "991", "en", ""),
    "St. Louis": (["St. Louis", "Saint Louis", "St Louis"], "US", "MO", "631", "en", "a"),
    "Washington": (["Washington", "Washington D.C."], "US", "DC", "200", "en", "h"),
    "Berkeley": (["Berkeley"], "US", "CA", "947", "en", ""),
    "Los Angeles": (["Los Angeles"], "US", "CA", "900", "en", "a"),
    "San Diego": (["San Diego", "La Jolla"], "US", "CA", "920", "en", "a"),
    "San Francisco": (["San Francisco"], "US", "CA", "941", "en", "h"),
    "Santa Barbara": (["Santa Barbara"], "US", "CA", "931", "en", ""),
    "Davis": (["Davis"], "US", "CA", "956", "en", ""),
    "Stanford": (["Stanford", "Palo Alto"], "US", "CA", "943", "en", ""),
    "Pasadena": (["Pasadena"], "US", "CA", "911", "en", "a"),
    "New York": (["New York", "New York City", "NYC"], "US", "NY", "100", "en", "h"),
    "Ithaca": (["Ithaca"], "US", "NY", "148", "en", "a"),
    "Chicago": (["Chicago"], "US", "IL", "606", "en", "h"),
    "Evanston": (["Evanston"], "US", "IL", "602", "en", ""),
    "Ann Arbor": (["Ann Arbor"], "US", "MI", "481", "en", ""),
    "East Lansing": (["East Lansing"], "US", "MI", "488", "en", ""),
    "Philadelphia": (["Philadelphia"], "US", "PA", "191", "en", "ha"),
    "University Park": (["University Park", "State College"], "US", "PA", "168", "en", ""),
    "Pittsburgh": (["Pittsburgh"], "US", "PA", "152", "en", "h"),
    "Baltimore": (["Baltimore"], "US", "MD", "212", "en", "a"),
    "Bethesda": (["Bethesda"], "US", "MD", "208", "en", ""),
    "Austin": (["Austin"], "US", "TX", "787", "en", "a"),
    "Houston": (["Houston"], "US", "TX", "770", "en", "a"),
    "College Station": (["College Station"], "US", "TX", "778", "en", ""),
    "Atlanta": (["Atlanta"], "US", "GA", "303", "en", "h"),
    "Princeton": (["Princeton"], "US", "NJ", "085", "en", ""),
    "New Haven": (["New Haven"], "US", "CT", "065", "en", "h"),
    "Madison": (["Madison"], "US", "WI", "537", "en", "a"),
    "Minneapolis": (["Minneapolis"], "US", "MN", "554", "en", "h"),
    "Columbus": (["Columbus"], "US", "OH", "432", "en", "a"),
    "Munich": (["Munich", "München", "Muenchen"], "DE", "", "80", "de", "h"),
    "Garching": (["Garching", "Garching bei München"], "DE", "", "85", "de", ""),
    "Martinsried": (["Martinsried", "Planegg-Martinsried"], "DE", "", "82", "de", ""),
    "Berlin": (["Berlin"], "DE", "", "10", "de", "a"),
    "Heidelberg": (["Heidelberg"], "DE", "", "69", "de", "h"),
    "Hamburg": (["Hamburg"], "DE", "", "20", "de", "a"),
    "Göttingen": (["Göttingen", "Goettingen"], "DE", "", "37", "de", "h"),
    "Mainz": (["Mainz"], "DE", "", "55", "de", "ha"),
    "Stuttgart": (["Stuttgart"], "DE", "", "70", "de", "a"),
    "Tübingen": (["Tübingen", "Tuebingen"], "DE", "", "72", "de", "h"),
    "Aachen": (["Aachen"], "DE", "", "52", "de", "ha"),
    "Dresden": (["Dresden"], "DE", "", "01", "de", "ha"),
    "Cologne": (["Cologne", "Köln", "Koeln"], "DE", "", "50", "de", "ha"),
    "Freiburg": (["Freiburg", "Freiburg im Breisgau"], "DE", "", "79", "de", "h"),
    "Bonn": (["Bonn"], "DE", "", "53", "de", "h"),
    "Karlsruhe": (["Karlsruhe"], "DE", "", "76", "de", "a"),
    "Frankfurt": (["Frankfurt", "Frankfurt am Main"], "DE", "", "60", "de", "ha"),
    "Saarbrücken": (["Saarbrücken", "Saarbruecken"], "DE", "", "66", "de", "a"),
    "Erlangen": (["Erlangen"], "DE", "", "91", "de", "uh"),
    "Jena": (["Jena"], "DE", "", "07", "de", "uh"),
    "Vienna": (["Vienna", "Wien"], "AT", "", "1", "de", "a"),
    "Graz": (["Graz"], "AT", "", "80", "de", "a"),
    "Innsbruck": (["Innsbruck"], "AT", "", "60", "de", "h"),
    "Linz": (["Linz"], "AT", "", "40", "de", "a"),
    "Zurich": (["Zurich", "Zürich", "Zuerich"], "CH", "", "80", "de", "a"),
    "Lausanne": (["Lausanne"], "CH", "", "10", "fr", ""),
    "Geneva": (["Geneva", "Genève", "Geneve"], "CH", "", "12", "fr", "h"),
    "Basel": (["Basel", "Bâle"], "CH", "", "40", "de", "h"),
    "Bern": (["Bern", "Berne"], "CH", "", "30", "de", "h"),
    "Paris": (["Paris"], "FR", "", "75", "fr", ""),
    "Orsay": (["Orsay"], "FR", "", "914", "fr", ""),
    "Villetaneuse": (["Villetaneuse"], "FR", "", "934", "fr", ""),
    "Palaiseau": (["Palaiseau"], "FR", "", "911", "fr", ""),
    "Gif-sur-Yvette": (["Gif-sur-Yvette"], "FR", "", "911", "fr", ""),
    "Lyon": (["Lyon", "Lyons"], "FR", "", "69", "fr", "ha"),
    "Grenoble": (["Grenoble"], "FR", "", "38", "fr", "ha"),
    "Toulouse": (["Toulouse"], "FR", "", "31", "fr", "ha"),
    "Marseille": (["Marseille", "Marseilles"], "FR", "", "13", "fr", "h"),
    "Strasbourg": (["Strasbourg"], "FR", "", "67", "fr", "h"),
    "Bordeaux": (["Bordeaux"], "FR", "", "33", "fr", "ha"),
    "Montpellier": (["Montpellier"], "FR", "", "34", "fr", "h"),
    "Lille": (["Lille"], "FR", "", "59", "fr", "ha"),
    "Nice": (["Nice"], "FR", "", "06", "fr", "h"),
    "Rome": (["Rome", "Roma"], "IT", "", "00", "it", "h"),
    "Milan": (["Milan", "Milano"], "IT", "", "20", "it", "h"),
    "Bologna": (["Bologna"], "IT", "", "40", "it", ""),
    "Padua": (["Padua", "Padova"], "IT", "", "35", "it", "h"),
    "Turin": (["Turin", "Torino"], "IT", "", "10", "it", "h"),
    "Naples": (["Naples", "Napoli"], "IT", "", "80", "it", "h"),
    "Florence": (["Florence", "Firenze"], "IT", "", "50", "it", "h"),
    "Pisa": (["Pisa"], "IT", "", "56", "it", "h"),
    "Genoa": (["Genoa", "Genova"], "IT", "", "16", "it", "uh"),
    "Madrid": (["Madrid"], "ES", "", "28", "es", "h"),
    "Barcelona": (["Barcelona"], "ES", "", "08", "es", ""),
    "Valencia": (["Valencia", "València"], "ES", "", "46", "es", "h"),
    "Seville": (["Seville", "Sevilla"], "ES", "", "41", "es", "h"),
    "Granada": (["Granada"], "ES", "", "18", "es", "h"),
    "Amsterdam": (["Amsterdam"], "NL", "", "10", "nl", "a"),
    "Delft": (["Delft"], "NL", "", "26", "nl", ""),
    "Leiden": (["Leiden"], "NL", "", "23", "nl", ""),
    "Utrecht": (["Utrecht"], "NL", "", "35", "nl", "a"),
    "Eindhoven": (["Eindhoven"], "NL", "", "56", "nl", "a"),
    "Groningen": (["Groningen"], "NL", "", "97", "nl", "ha"),
    "Leuven": (["Leuven", "Louvain"], "BE", "", "30", "nl", "h"),
    "Louvain-la-Neuve": (["Louvain-la-Neuve"], "BE", "", "13", "fr", ""),
    "Ghent": (["Ghent", "Gent", "Gand"], "BE", "", "90", "nl", "h"),
    "Brussels": (["Brussels", "Bruxelles", "Brussel"], "BE", "", "10", "fr", ""),
    "Stockholm": (["Stockholm"], "SE", "", "11", "sv", ""),
    "Uppsala": (["Uppsala"], "SE", "", "75", "sv", "h"),
    "Lund": (["Lund"], "SE", "", "22", "sv", "h"),
    "Gothenburg": (["Gothenburg", "Göteborg", "Goteborg"], "SE", "", "41", "sv", ""),
    "Tokyo": (["Tokyo", "Tokyo-to"], "JP", "", "113", "en", ""),
    "Kyoto": (["Kyoto"], "JP", "", "606", "en", "h"),
    "Osaka": (["Osaka", "Suita"], "JP", "", "565", "en", "h"),
    "Sendai": (["Sendai"], "JP", "", "980", "en", "h"),
    "Nagoya": (["Nagoya"], "JP", "", "464", "en", "h"),
    "Wako": (["Wako", "Wako-shi"], "JP", "", "351", "en", ""),
    "Beijing": (["Beijing"], "CN", "", "100", "en", ""),
    "Shanghai": (["Shanghai"], "CN", "", "200", "en", ""),
    "Hangzhou": (["Hangzhou"], "CN", "", "310", "en", "a"),
    "Nanjing": (["Nanjing"], "CN", "", "210", "en", "a"),
    "Wuhan": (["Wuhan"], "CN", "", "430", "en", "a"),
    "Hefei": (["Hefei"], "CN", "", "230", "en", "a"),
    "Dalian": (["Dalian"], "CN", "", "116", "en", "ua"),
    "Toronto": (["Toronto"], "CA", "ON", "M5S", "en", "h"),
    "Montreal": (["Montreal", "Montréal"], "CA", "QC", "H3A", "fr", ""),
    "Vancouver": (["Vancouver"], "CA", "BC", "V6T", "en", "h"),
    "Burnaby": (["Burnaby"], "CA", "BC", "V5A", "en", ""),
}
REGIONS = {"MA": "Massachusetts", "WA": "Washington", "MO": "Missouri", "DC": "District of Columbia"}
REGIONS |= {"CA": "California", "NY": "New York", "IL": "Illinois", "MI": "Michigan", "PA": "Pennsylvania"}
REGIONS |= {"MD": "Maryland", "TX": "Texas", "GA": "Georgia", "NJ": "New Jersey", "CT": "Connecticut"}
REGIONS |= {"WI": "Wisconsin", "MN": "Minnesota", "OH": "Ohio", "ON": "Ontario", "QC": "Québec"}
REGIONS |= {"BC": "British Columbia"}
COUNTRIES = {
    "US": ["USA", "United States", "U.S.A.", "United States of America", "US"],
    "GB": ["UK", "United Kingdom", "U.K.", "England"],
    "DE": ["Germany", "Deutschland", "Federal Republic of Germany"],
    "AT": ["Austria", "Österreich"],
    "CH": ["Switzerland", "Schweiz", "Suisse"],
    "FR": ["France"],
    "IT": ["Italy", "Italia"],
    "ES": ["Spain", "España"],
    "NL": ["The Netherlands", "Netherlands", "Holland"],
    "BE": ["Belgium", "België", "Belgique"],
    "SE": ["Sweden", "Sverige"],
    "JP": ["Japan"],
    "CN": ["China", "P.R. China", "PR China", "People's Republic of China"],
    "CA": ["Canada"],
}
TLD = {"US": "edu", "GB": "ac.uk", "AT": "ac.at", "JP": "ac.jp", "CN": "edu.cn"}
POSTAL_PREFIX = {"DE": "D-", "AT": "A-", "CH": "CH-", "FR": "F-", "IT": "I-", "BE": "B-", "SE": "SE-"}

# The institutions: "English names|...;local names|...;acronyms|...;city;kind;mail domain", kind u
# (university), h (hospital) or i (research institute).
REAL = [
    # Cambridge (England): the university, its hospitals, another university, a research council lab.
    "University of Cambridge|Cambridge University;;;Cambridge;u;cam.ac.uk",
    "Cambridge University Hospitals NHS Foundation Trust|Cambridge University Hospitals|Addenbrooke's Hospital"
    ";;CUH;Cambridge;h;addenbrookes.nhs.uk",
    "Anglia Ruskin University;;ARU;Cambridge;u;aru.ac.uk",
    "MRC Laboratory of Molecular Biology|Medical Research Council Laboratory of Molecular Biology;;MRC LMB"
    ";Cambridge;i;mrc-lmb.cam.ac.uk",
    "Massachusetts Institute of Technology;;MIT|M.I.T.;Cambridge MA;u;mit.edu",
    "Harvard University;;;Cambridge MA;u;harvard.edu",
    "Harvard Medical School;;HMS;Boston;u;hms.harvard.edu",
    "Massachusetts General Hospital;;MGH;Boston;h;mgh.harvard.edu",
    "Boston University;;BU;Boston;u;bu.edu",
    "Northeastern University;;;Boston;u;northeastern.edu",
    "Boston Children's Hospital|Children's Hospital Boston;;;Boston;h;childrens.harvard.edu",
    # Washington, four ways.
    "University of Washington;;UW;Seattle;u;uw.edu",
    "Washington University in St. Louis|Washington University|Washington University, St. Louis;;WUSTL"
    ";St. Louis;u;wustl.edu",
    "Saint Louis University;;SLU;St. Louis;u;slu.edu",
    "Washington State University;;WSU;Pullman;u;wsu.edu",
    "George Washington University|The George Washington University;;GWU;Washington;u;gwu.edu",
    "Georgetown University;;;Washington;u;georgetown.edu",
    # California.
    "University of California, Berkeley|University of California at Berkeley|UC Berkeley;;UCB"
    ";Berkeley;u;berkeley.edu",
    "Lawrence Berkeley National Laboratory|Lawrence Berkeley Laboratory;;LBNL|Berkeley Lab;Berkeley;i;lbl.gov",
    "University of California, Los Angeles|University of California at Los Angeles;;UCLA;Los Angeles;u;ucla.edu",
    "University of Southern California;;USC;Los Angeles;u;usc.edu",
    "University of California, San Diego|UC San Diego;;UCSD;San Diego;u;ucsd.edu",
    "Scripps Research Institute|The Scripps Research Institute;;TSRI;San Diego;i;scripps.edu",
    "University of California, San Francisco|UC San Francisco;;UCSF;San Francisco;u;ucsf.edu",
    "University of California, Santa Barbara|UC Santa Barbara;;UCSB;Santa Barbara;u;ucsb.edu",
    "University of California, Davis|UC Davis;;;Davis;u;ucdavis.edu",
    "Stanford University;;;Stanford;u;stanford.edu",
    "California Institute of Technology;;Caltech;Pasadena;u;caltech.edu",
    "Jet Propulsion Laboratory;;JPL;Pasadena;i;jpl.nasa.gov",
    # Elsewhere in the US.
    "Columbia University|Columbia University in the City of New York;;;New York;u;columbia.edu",
    "New York University;;NYU;New York;u;nyu.edu",
    "City University of New York|The City University of New York;;CUNY;New York;u;cuny.edu",
    "Icahn School of Medicine at Mount Sinai|Mount Sinai School of Medicine;;;New York;h;mssm.edu",
    "Weill Cornell Medicine|Weill Cornell Medical College;;WCM;New York;h;med.cornell.edu",
    "Cornell University;;;Ithaca;u;cornell.edu",
    "University of Chicago|The University of Chicago;;UChicago;Chicago;u;uchicago.edu",
    "University of Illinois at Chicago;;UIC;Chicago;u;uic.edu",
    "Northwestern University;;;Evanston;u;northwestern.edu",
    "University of Michigan|University of Michigan, Ann Arbor;;UMich;Ann Arbor;u;umich.edu",
    "Michigan State University;;MSU;East Lansing;u;msu.edu",
    "University of Pennsylvania;;UPenn|Penn;Philadelphia;u;upenn.edu",
    "Pennsylvania State University|The Pennsylvania State University;;Penn State|PSU;University Park;u;psu.edu",
    "Temple University;;;Philadelphia;u;temple.edu",
    "Carnegie Mellon University;;CMU;Pittsburgh;u;cmu.edu",
    "University of Pittsburgh;;Pitt;Pittsburgh;u;pitt.edu",
    "Johns Hopkins University|The Johns Hopkins University;;JHU;Baltimore;u;jhu.edu",
    "Johns Hopkins Hospital|The Johns Hopkins Hospital;;;Baltimore;h;jhmi.edu",
    "National Institutes of Health;;NIH;Bethesda;i;nih.gov",
    "University of Texas at Austin|The University of Texas at Austin;;UT Austin;Austin;u;utexas.edu",
    "University of Texas MD Anderson Cancer Center|MD Anderson Cancer Center;;MDACC;Houston;h;mdanderson.org",
    "Rice University;;;Houston;u;rice.edu",
    "Texas A&M University;;TAMU;College Station;u;tamu.edu",
    "Georgia Institute of Technology|Georgia Tech;;GaTech;Atlanta;u;gatech.edu",
    "Emory University;;;Atlanta;u;emory.edu",
    "Princeton University;;;Princeton;u;princeton.edu",
    "Yale University;;;New Haven;u;yale.edu",
    "University of Wisconsin-Madison|University of Wisconsin, Madison;;UW-Madison;Madison;u;wisc.edu",
    "University of Minnesota|University of Minnesota, Twin Cities;;UMN;Minneapolis;u;umn.edu",
    "Ohio State University|The Ohio State University;;OSU;Columbus;u;osu.edu",
    # United Kingdom.
    "University of Oxford|Oxford University;;;Oxford;u;ox.ac.uk",
    "Oxford Brookes University;;;Oxford;u;brookes.ac.uk",
    "John Radcliffe Hospital;;;Oxford;h;ouh.nhs.uk",
    "University College London;;UCL;London;u;ucl.ac.uk",
    "Imperial College London|Imperial College of Science, Technology and Medicine;;ICL;London;u;imperial.ac.uk",
    "King's College London;;KCL;London;u;kcl.ac.uk",
    "London School of Economics and Political Science|London School of Economics;;LSE;London;u;lse.ac.uk",
    "Queen Mary University of London|Queen Mary, University of London;;QMUL;London;u;qmul.ac.uk",
    "University of Manchester|The University of Manchester;;;Manchester;u;manchester.ac.uk",
    "Manchester Metropolitan University;;MMU;Manchester;u;mmu.ac.uk",
    "University of Edinburgh|The University of Edinburgh;;;Edinburgh;u;ed.ac.uk",
    "Heriot-Watt University;;HWU;Edinburgh;u;hw.ac.uk",
    "University of Glasgow;;;Glasgow;u;gla.ac.uk",
    "University of Strathclyde;;;Glasgow;u;strath.ac.uk",
    "University of Bristol;;;Bristol;u;bristol.ac.uk",
    "University of the West of England;;UWE;Bristol;u;uwe.ac.uk",
    "University of Birmingham;;;Birmingham;u;bham.ac.uk",
    "Birmingham City University;;BCU;Birmingham;u;bcu.ac.uk",
    "University of Leeds;;;Leeds;u;leeds.ac.uk",
    "Leeds Beckett University;;;Leeds;u;leedsbeckett.ac.uk",
    "University of Sheffield;;;Sheffield;u;sheffield.ac.uk",
    "Sheffield Hallam University;;SHU;Sheffield;u;shu.ac.uk",
    "Cardiff University;Prifysgol Caerdydd;;Cardiff;u;cardiff.ac.uk",
    # Germany.
    "Technical University of Munich|Technical University Munich;Technische Universität München;TUM|TU München"
    ";Munich;u;tum.de",
    "Ludwig Maximilian University of Munich|University of Munich;Ludwig-Maximilians-Universität München"
    ";LMU|LMU München|LMU Munich;Munich;u;lmu.de",
    "Munich University of Applied Sciences;Hochschule München;HM;Munich;u;hm.edu",
    "Humboldt University of Berlin;Humboldt-Universität zu Berlin;HU Berlin;Berlin;u;hu-berlin.de",
    "Free University of Berlin;Freie Universität Berlin;FU Berlin;Berlin;u;fu-berlin.de",
    "Technical University of Berlin;Technische Universität Berlin;TU Berlin;Berlin;u;tu-berlin.de",
    "Charité University Medicine Berlin;Charité – Universitätsmedizin Berlin;;Berlin;h;charite.de",
    "Heidelberg University|University of Heidelberg;Ruprecht-Karls-Universität Heidelberg|Universität Heidelberg"
    ";;Heidelberg;u;uni-heidelberg.de",
    "German Cancer Research Center;Deutsches Krebsforschungszentrum;DKFZ;Heidelberg;i;dkfz.de",
    "European Molecular Biology Laboratory;;EMBL;Heidelberg;i;embl.de",
    "University of Hamburg;Universität Hamburg;UHH;Hamburg;u;uni-hamburg.de",
    "University Medical Center Hamburg-Eppendorf;Universitätsklinikum Hamburg-Eppendorf;UKE;Hamburg;h;uke.de",
    "University of Göttingen;Georg-August-Universität Göttingen;;Göttingen;u;uni-goettingen.de",
    "Johannes Gutenberg University Mainz|University of Mainz;Johannes Gutenberg-Universität Mainz;JGU"
    ";Mainz;u;uni-mainz.de",
    "University of Stuttgart;Universität Stuttgart;;Stuttgart;u;uni-stuttgart.de",
    "University of Tübingen;Eberhard Karls Universität Tübingen|Universität Tübingen;;Tübingen;u;uni-tuebingen.de",
    "RWTH Aachen University|Aachen University of Technology;Rheinisch-Westfälische Technische Hochschule Aachen"
    ";RWTH|RWTH Aachen;Aachen;u;rwth-aachen.de",
    "Dresden University of Technology;Technische Universität Dresden;TU Dresden;Dresden;u;tu-dresden.de",
    "University of Cologne;Universität zu Köln;;Cologne;u;uni-koeln.de",
    "University of Freiburg;Albert-Ludwigs-Universität Freiburg;;Freiburg;u;uni-freiburg.de",
    "University of Bonn;Rheinische Friedrich-Wilhelms-Universität Bonn|Universität Bonn;;Bonn;u;uni-bonn.de",
    "Karlsruhe Institute of Technology;Karlsruher Institut für Technologie;KIT;Karlsruhe;u;kit.edu",
    "Goethe University Frankfurt;Goethe-Universität Frankfurt am Main;;Frankfurt;u;uni-frankfurt.de",
    "Saarland University;Universität des Saarlandes;;Saarbrücken;u;uni-saarland.de",
    # Austria and Switzerland.
    "University of Vienna;Universität Wien;;Vienna;u;univie.ac.at",
    "Vienna University of Technology|Technical University of Vienna;Technische Universität Wien;TU Wien"
    ";Vienna;u;tuwien.ac.at",
    "Medical University of Vienna;Medizinische Universität Wien;MedUni Wien;Vienna;u;meduniwien.ac.at",
    "University of Natural Resources and Life Sciences, Vienna;Universität für Bodenkultur Wien;BOKU"
    ";Vienna;u;boku.ac.at",
    "University of Graz;Karl-Franzens-Universität Graz|Universität Graz;;Graz;u;uni-graz.at",
    "Graz University of Technology;Technische Universität Graz;TU Graz;Graz;u;tugraz.at",
    "Medical University of Graz;Medizinische Universität Graz;;Graz;u;medunigraz.at",
    "University of Innsbruck;Universität Innsbruck|Leopold-Franzens-Universität Innsbruck;;Innsbruck;u;uibk.ac.at",
    "Johannes Kepler University Linz;Johannes Kepler Universität Linz;JKU;Linz;u;jku.at",
    "Swiss Federal Institute of Technology Zurich|ETH Zurich;Eidgenössische Technische Hochschule Zürich"
    "|ETH Zürich;ETH|ETHZ|ETH Zürich;Zurich;u;ethz.ch",
    "University of Zurich;Universität Zürich;UZH;Zurich;u;uzh.ch",
    "University Hospital Zurich;Universitätsspital Zürich;USZ;Zurich;h;usz.ch",
    "Swiss Federal Institute of Technology Lausanne;École Polytechnique Fédérale de Lausanne;EPFL;Lausanne;u;epfl.ch",
    "University of Lausanne;Université de Lausanne;UNIL;Lausanne;u;unil.ch",
    "Lausanne University Hospital;Centre Hospitalier Universitaire Vaudois;CHUV;Lausanne;h;chuv.ch",
    "University of Geneva;Université de Genève;UNIGE;Geneva;u;unige.ch",
    "European Organization for Nuclear Research;Organisation Européenne pour la Recherche Nucléaire;CERN"
    ";Geneva;i;cern.ch",
    "University of Basel;Universität Basel;;Basel;u;unibas.ch",
    "University of Bern;Universität Bern;;Bern;u;unibe.ch",
    # France.
    "French National Centre for Scientific Research|National Center for Scientific Research"
    ";Centre National de la Recherche Scientifique;CNRS;Paris;i;cnrs.fr",
    "French Institute for Research in Computer Science and Automation"
    ";Institut National de Recherche en Informatique et en Automatique;INRIA|Inria;Paris;i;inria.fr",
    "French Alternative Energies and Atomic Energy Commission|Atomic Energy Commission"
    ";Commissariat à l'Énergie Atomique et aux Énergies Alternatives|Commissariat à l'Énergie Atomique;CEA"
    ";Gif-sur-Yvette;i;cea.fr",
    "Sorbonne University;Sorbonne Université;;Paris;u;sorbonne-universite.fr",
    "École Normale Supérieure|Ecole Normale Superieure Paris;École Normale Supérieure;ENS|ENS Paris;Paris;u;ens.fr",
    "École Polytechnique;École Polytechnique;;Palaiseau;u;polytechnique.edu",
    "Pasteur Institute;Institut Pasteur;;Paris;i;pasteur.fr",
    "Curie Institute;Institut Curie;;Paris;i;curie.fr",
    "Collège de France;Collège de France;;Paris;u;college-de-france.fr",
    "Paris Public Hospitals;Assistance Publique – Hôpitaux de Paris;AP-HP;Paris;h;aphp.fr",
    "Pitié-Salpêtrière Hospital;Hôpital de la Pitié-Salpêtrière|Groupe Hospitalier Pitié-Salpêtrière;;Paris;h;aphp.fr",
    "Claude Bernard University Lyon 1|University of Lyon 1;Université Claude Bernard Lyon 1|Université Lyon 1"
    ";UCBL;Lyon;u;univ-lyon1.fr",
    "École Normale Supérieure de Lyon;École Normale Supérieure de Lyon;ENS Lyon;Lyon;u;ens-lyon.fr",
    "Grenoble Alpes University|University of Grenoble Alpes;Université Grenoble Alpes;UGA;Grenoble;u;univ-grenoble-alpes.fr",
    "Institut Laue-Langevin;Institut Laue-Langevin;ILL;Grenoble;i;ill.eu",
    "Paul Sabatier University|University of Toulouse III;Université Paul Sabatier|Université Toulouse III;UPS"
    ";Toulouse;u;univ-tlse3.fr",
    "Aix-Marseille University;Aix-Marseille Université;AMU;Marseille;u;univ-amu.fr",
    "University of Strasbourg;Université de Strasbourg;Unistra;Strasbourg;u;unistra.fr",
    "University of Bordeaux;Université de Bordeaux;;Bordeaux;u;u-bordeaux.fr",
    "University of Montpellier;Université de Montpellier;;Montpellier;u;umontpellier.fr",
    "University of Lille;Université de Lille;;Lille;u;univ-lille.fr",
    "Côte d'Azur University;Université Côte d'Azur;UCA;Nice;u;univ-cotedazur.fr",
    # Italy and Spain.
    "University of Bologna;Università di Bologna|Alma Mater Studiorum – Università di Bologna;UNIBO;Bologna;u;unibo.it",
    "S. Orsola-Malpighi University Hospital;Policlinico S. Orsola-Malpighi;;Bologna;h;aosp.bo.it",
    "Sapienza University of Rome|University of Rome La Sapienza;Sapienza Università di Roma;;Rome;u;uniroma1.it",
    "University of Rome Tor Vergata;Università degli Studi di Roma Tor Vergata;;Rome;u;uniroma2.it",
    "Roma Tre University;Università degli Studi Roma Tre;;Rome;u;uniroma3.it",
    "National Research Council of Italy;Consiglio Nazionale delle Ricerche;CNR;Rome;i;cnr.it",
    "National Institute for Nuclear Physics;Istituto Nazionale di Fisica Nucleare;INFN;Rome;i;infn.it",
    "Polytechnic University of Milan;Politecnico di Milano;POLIMI;Milan;u;polimi.it",
    "University of Milan;Università degli Studi di Milano;UNIMI;Milan;u;unimi.it",
    "University of Milano-Bicocca;Università degli Studi di Milano-Bicocca;;Milan;u;unimib.it",
    "Bocconi University;Università Commerciale Luigi Bocconi|Università Bocconi;;Milan;u;unibocconi.it",
    "University of Padua|University of Padova;Università degli Studi di Padova;UNIPD;Padua;u;unipd.it",
    "University of Turin;Università degli Studi di Torino;UNITO;Turin;u;unito.it",
    "Polytechnic University of Turin;Politecnico di Torino;POLITO;Turin;u;polito.it",
    "University of Naples Federico II;Università degli Studi di Napoli Federico II;;Naples;u;unina.it",
    "University of Florence;Università degli Studi di Firenze;UNIFI;Florence;u;unifi.it",
    "University of Pisa;Università di Pisa;UNIPI;Pisa;u;unipi.it",
    "Scuola Normale Superiore;Scuola Normale Superiore di Pisa;SNS;Pisa;u;sns.it",
    "Complutense University of Madrid;Universidad Complutense de Madrid;UCM;Madrid;u;ucm.es",
    "Autonomous University of Madrid;Universidad Autónoma de Madrid;UAM;Madrid;u;uam.es",
    "Technical University of Madrid|Polytechnic University of Madrid;Universidad Politécnica de Madrid;UPM"
    ";Madrid;u;upm.es",
    "Spanish National Research Council;Consejo Superior de Investigaciones Científicas;CSIC;Madrid;i;csic.es",
    "University of Barcelona;Universitat de Barcelona;UB;Barcelona;u;ub.edu",
    "Autonomous University of Barcelona;Universitat Autònoma de Barcelona;UAB;Barcelona;u;uab.cat",
    "Polytechnic University of Catalonia;Universitat Politècnica de Catalunya;UPC;Barcelona;u;upc.edu",
    "Pompeu Fabra University;Universitat Pompeu Fabra;UPF;Barcelona;u;upf.edu",
    "Hospital Clínic of Barcelona;Hospital Clínic de Barcelona;;Barcelona;h;clinicbarcelona.org",
    "University of Valencia;Universitat de València|Universidad de Valencia;;Valencia;u;uv.es",
    "Polytechnic University of Valencia;Universitat Politècnica de València;UPV;Valencia;u;upv.es",
    "University of Granada;Universidad de Granada;UGR;Granada;u;ugr.es",
    "University of Seville;Universidad de Sevilla;;Seville;u;us.es",
    # Benelux and Sweden.
    "University of Amsterdam;Universiteit van Amsterdam;UvA;Amsterdam;u;uva.nl",
    "VU University Amsterdam|Free University Amsterdam;Vrije Universiteit Amsterdam;VU Amsterdam;Amsterdam;u;vu.nl",
    "Academic Medical Center Amsterdam;Academisch Medisch Centrum;AMC;Amsterdam;h;amc.nl",
    "Delft University of Technology;Technische Universiteit Delft;TU Delft;Delft;u;tudelft.nl",
    "Leiden University;Universiteit Leiden;;Leiden;u;leidenuniv.nl",
    "Leiden University Medical Center;Leids Universitair Medisch Centrum;LUMC;Leiden;h;lumc.nl",
    "Utrecht University;Universiteit Utrecht;;Utrecht;u;uu.nl",
    "University Medical Center Utrecht;Universitair Medisch Centrum Utrecht;UMC Utrecht;Utrecht;h;umcutrecht.nl",
    "Eindhoven University of Technology;Technische Universiteit Eindhoven;TU/e;Eindhoven;u;tue.nl",
    "University of Groningen;Rijksuniversiteit Groningen;RUG;Groningen;u;rug.nl",
    "Catholic University of Leuven|KU Leuven;Katholieke Universiteit Leuven;KU Leuven|KUL;Leuven;u;kuleuven.be",
    "Catholic University of Louvain;Université catholique de Louvain;UCLouvain|UCL;Louvain-la-Neuve;u;uclouvain.be",
    "Ghent University|University of Ghent;Universiteit Gent;UGent;Ghent;u;ugent.be",
    "Free University of Brussels;Université libre de Bruxelles;ULB;Brussels;u;ulb.be",
    "Vrije Universiteit Brussel;Vrije Universiteit Brussel;VUB;Brussels;u;vub.be",
    "KTH Royal Institute of Technology|Royal Institute of Technology;Kungliga Tekniska högskolan;KTH"
    ";Stockholm;u;kth.se",
    "Karolinska Institutet|Karolinska Institute;Karolinska Institutet;KI;Stockholm;u;ki.se",
    "Stockholm University;Stockholms universitet;;Stockholm;u;su.se",
    "Uppsala University;Uppsala universitet;;Uppsala;u;uu.se",
    "Lund University;Lunds universitet;;Lund;u;lu.se",
    "Chalmers University of Technology;Chalmers tekniska högskola;;Gothenburg;u;chalmers.se",
    "University of Gothenburg;Göteborgs universitet;;Gothenburg;u;gu.se",
    # Japan, China, Canada.
    "University of Tokyo|The University of Tokyo|Tokyo University;;UTokyo;Tokyo;u;u-tokyo.ac.jp",
    "Tokyo Institute of Technology;;Tokyo Tech;Tokyo;u;titech.ac.jp",
    "Tokyo University of Science;;TUS;Tokyo;u;tus.ac.jp",
    "Tokyo Medical and Dental University;;TMDU;Tokyo;u;tmd.ac.jp",
    "Kyoto University;;;Kyoto;u;kyoto-u.ac.jp",
    "Osaka University;;;Osaka;u;osaka-u.ac.jp",
    "Tohoku University;;;Sendai;u;tohoku.ac.jp",
    "Nagoya University;;;Nagoya;u;nagoya-u.ac.jp",
    "RIKEN|Institute of Physical and Chemical Research;;RIKEN;Wako;i;riken.jp",
    "Peking University;;PKU;Beijing;u;pku.edu.cn",
    "Tsinghua University;;THU;Beijing;u;tsinghua.edu.cn",
    "Beijing Normal University;;BNU;Beijing;u;bnu.edu.cn",
    "University of Chinese Academy of Sciences;;UCAS;Beijing;u;ucas.ac.cn",
    "Fudan University;;;Shanghai;u;fudan.edu.cn",
    "Shanghai Jiao Tong University;;SJTU;Shanghai;u;sjtu.edu.cn",
    "Zhejiang University;;ZJU;Hangzhou;u;zju.edu.cn",
    "Nanjing University;;NJU;Nanjing;u;nju.edu.cn",
    "Wuhan University;;WHU;Wuhan;u;whu.edu.cn",
    "University of Science and Technology of China;;USTC;Hefei;u;ustc.edu.cn",
    "University of Toronto;;UofT|U of T;Toronto;u;utoronto.ca",
    "McGill University;Université McGill;;Montreal;u;mcgill.ca",
    "University of Montreal;Université de Montréal;UdeM;Montreal;u;umontreal.ca",
    "Polytechnique Montréal;École Polytechnique de Montréal;;Montreal;u;polymtl.ca",
    "University of British Columbia;;UBC;Vancouver;u;ubc.ca",
    "Simon Fraser University;;SFU;Burnaby;u;sfu.ca",
]
# Serial names: (English field, German field, acronym, city).
MAX_PLANCK = [
    ("Physics", "Physik", "MPP", "Munich"),
    ("Chemistry", "Chemie", "MPIC", "Mainz"),
    ("Biochemistry", "Biochemie", "MPIB", "Martinsried"),
    ("Quantum Optics", "Quantenoptik", "MPQ", "Garching"),
    ("Astrophysics", "Astrophysik", "MPA", "Garching"),
    ("Extraterrestrial Physics", "extraterrestrische Physik", "MPE", "Garching"),
    ("Plasma Physics", "Plasmaphysik", "IPP", "Garching"),
    ("Intelligent Systems", "Intelligente Systeme", "MPI-IS", "Tübingen"),
    ("Informatics", "Informatik", "MPI-INF", "Saarbrücken"),
    ("Software Systems", "Softwaresysteme", "MPI-SWS", "Saarbrücken"),
    ("Molecular Genetics", "molekulare Genetik", "MPIMG", "Berlin"),
    ("Solid State Research", "Festkörperforschung", "MPI-FKF", "Stuttgart"),
    ("Polymer Research", "Polymerforschung", "MPIP", "Mainz"),
    ("Biophysical Chemistry", "biophysikalische Chemie", "MPI-BPC", "Göttingen"),
    ("Dynamics and Self-Organization", "Dynamik und Selbstorganisation", "MPIDS", "Göttingen"),
    ("Mathematics", "Mathematik", "MPIM", "Bonn"),
    ("Radio Astronomy", "Radioastronomie", "MPIfR", "Bonn"),
    ("Medical Research", "medizinische Forschung", "MPImF", "Heidelberg"),
    ("Nuclear Physics", "Kernphysik", "MPIK", "Heidelberg"),
    ("Astronomy", "Astronomie", "MPIA", "Heidelberg"),
]
FRAUNHOFER = [
    ("Solar Energy Systems", "Solare Energiesysteme", "ISE", "Freiburg"),
    ("Applied Solid State Physics", "Angewandte Festkörperphysik", "IAF", "Freiburg"),
    ("Integrated Circuits", "Integrierte Schaltungen", "IIS", "Erlangen"),
    ("Laser Technology", "Lasertechnik", "ILT", "Aachen"),
    ("Applied Optics and Precision Engineering", "Angewandte Optik und Feinmechanik", "IOF", "Jena"),
    (
        "Manufacturing Engineering and Automation",
        "Produktionstechnik und Automatisierung",
        "IPA",
        "Stuttgart",
    ),
    (
        "Interfacial Engineering and Biotechnology",
        "Grenzflächen- und Bioverfahrenstechnik",
        "IGB",
        "Stuttgart",
    ),
    ("Photonic Microsystems", "Photonische Mikrosysteme", "IPMS", "Dresden"),
]
CAS = [
    ("Physics", "IOP", "Beijing"),
    ("Chemistry", "ICCAS", "Beijing"),
    ("Biophysics", "IBP", "Beijing"),
    ("Computing Technology", "ICT", "Beijing"),
    ("Automation", "CASIA", "Beijing"),
    ("Semiconductors", "IOS", "Beijing"),
    ("Theoretical Physics", "ITP", "Beijing"),
    ("Mechanics", "IMECH", "Beijing"),
    ("Zoology", "IOZ", "Beijing"),
    ("Geology and Geophysics", "IGG", "Beijing"),
    ("Organic Chemistry", "SIOC", "Shanghai"),
    ("Chemical Physics", "DICP", "Dalian"),
]
# Université Paris n: (number, its own name, acronym, city)
PARIS = [
    (1, "Panthéon-Sorbonne", "", "Paris"),
    (4, "Paris-Sorbonne", "", "Paris"),
    (5, "René Descartes", "", "Paris"),
    (6, "Pierre et Marie Curie", "UPMC", "Paris"),
    (7, "Denis Diderot", "", "Paris"),
    (11, "Paris-Sud", "", "Orsay"),
    (13, "Paris-Nord", "", "Villetaneuse"),
]
ROMAN = {1: "I", 4: "IV", 5: "V", 6: "VI", 7: "VII", 11: "XI", 13: "XIII"}
# Made-up institutions of a city: kind letter -> (English names, local names by language).
MADE_UP = {
    "u": (["University of {c}", "{c} University"], {"de": "Universität {c}", "it": "Università di {c}"}),
    "h": (
        ["{c} University Hospital", "University Hospital {c}"],
        {
            "de": "Universitätsklinikum {c}",
            "fr": "Centre Hospitalier Universitaire de {c}|CHU de {c}",
            "it": "Azienda Ospedaliero-Universitaria di {c}",
            "es": "Hospital Universitario de {c}",
            "nl": "Universitair Medisch Centrum {c}",
            "sv": "{c} universitetssjukhus",
        },
    ),
    "a": (
        ["{c} University of Applied Sciences"],
        {
            "de": "Hochschule {c}",
            "fr": "Institut Universitaire de Technologie de {c}",
            "nl": "Hogeschool {c}",
        },
    ),
}
# English-speaking countries' own kinds of made-up institutions.
MADE_UP_EN = {
    "h": {"US": "{c} Medical Center", "GB": "{c} Royal Infirmary"},
    "a": {"US": "{c} Community College", "GB": "{c} College", "CN": "{c} University of Technology"},
}

# Fields of units: English, German, French, Italian, Spanish, Dutch, Swedish.
FIELDS = [
    "Physics|Physik|Physique|Fisica|Física|Natuurkunde|fysik",
    "Chemistry|Chemie|Chimie|Chimica|Química|Scheikunde|kemi",
    "Mathematics|Mathematik|Mathématiques|Matematica|Matemáticas|Wiskunde|matematik",
    "Computer Science|Informatik|Informatique|Informatica|Informática|Informatica|datavetenskap",
    "Biology|Biologie|Biologie|Biologia|Biología|Biologie|biologi",
    "Materials Science|Materialwissenschaft|Science des Matériaux|Scienza dei Materiali|Ciencia de Materiales"
    "|Materiaalkunde|materialvetenskap",
    "Earth Sciences|Geowissenschaften|Sciences de la Terre|Scienze della Terra|Ciencias de la Tierra"
    "|Aardwetenschappen|geovetenskaper",
    "Astronomy|Astronomie|Astronomie|Astronomia|Astronomía|Sterrenkunde|astronomi",
    "Electrical Engineering|Elektrotechnik|Génie Électrique|Ingegneria Elettrica|Ingeniería Eléctrica"
    "|Elektrotechniek|elektroteknik",
    "Mechanical Engineering|Maschinenbau|Génie Mécanique|Ingegneria Meccanica|Ingeniería Mecánica"
    "|Werktuigbouwkunde|maskinteknik",
    "Economics|Volkswirtschaftslehre|Économie|Economia|Economía|Economie|nationalekonomi",
    "Psychology|Psychologie|Psychologie|Psicologia|Psicología|Psychologie|psykologi",
    "History|Geschichte|Histoire|Storia|Historia|Geschiedenis|historia",
    "Linguistics|Linguistik|Linguistique|Linguistica|Lingüística|Taalwetenschap|lingvistik",
    "Medicine|Medizin|Médecine|Medicina|Medicina|Geneeskunde|medicin",
    "Cardiology|Kardiologie|Cardiologie|Cardiologia|Cardiología|Cardiologie|kardiologi",
    "Radiology|Radiologie|Radiologie|Radiologia|Radiología|Radiologie|radiologi",
    "Neurology|Neurologie|Neurologie|Neurologia|Neurología|Neurologie|neurologi",
    "Oncology|Onkologie|Oncologie|Oncologia|Oncología|Oncologie|onkologi",
    "Pediatrics|Kinderheilkunde|Pédiatrie|Pediatria|Pediatría|Kindergeneeskunde|pediatrik",
    "Surgery|Chirurgie|Chirurgie|Chirurgia|Cirugía|Heelkunde|kirurgi",
    "Internal Medicine|Innere Medizin|Médecine Interne|Medicina Interna|Medicina Interna|Interne Geneeskunde"
    "|internmedicin",
]
KIND_FIELDS = {"u": range(15), "h": range(14, 22), "i": range(10)}
# Unit types: English forms, then one form per other language ({df}: "de Physique" / "d'Informatique").
UNITS = {
    "dept": (
        ["Department of {f}", "Dept. of {f}", "Dept of {f}", "{f} Department", "Dept. {f}"],
        "Institut für {f}|Département {df}|Dipartimento di {f}|Departamento de {f}|Afdeling {f}"
        "|Institutionen för {f}",
    ),
    "school": (
        ["School of {f}", "Faculty of {f}"],
        "Fakultät für {f}|Faculté {df}|Facoltà di {f}|Facultad de {f}|Faculteit {f}|Fakulteten för {f}",
    ),
    "lab": (
        ["Laboratory of {f}", "Laboratory for {f}", "{f} Laboratory"],
        "Labor für {f}|Laboratoire {df}|Laboratorio di {f}|Laboratorio de {f}|Laboratorium voor {f}"
        "|Laboratoriet för {f}",
    ),
    "clinic": (
        ["Department of {f}", "Dept. of {f}", "Division of {f}", "Clinic of {f}"],
        "Klinik für {f}|Service {df}|Unità Operativa di {f}|Servicio de {f}|Afdeling {f}|Kliniken för {f}",
    ),
    "division": (
        ["Division of {f}", "{f} Division", "Department of {f}"],
        "Abteilung {f}|Département {df}|Divisione di {f}|División de {f}|Afdeling {f}|Avdelningen för {f}",
    ),
}
KIND_UNITS = {
    "u": ["dept", "dept", "dept", "school", "lab"],
    "h": ["clinic"],
    "i": ["lab", "dept", "division"],
}
ABBREVIATIONS = {
    "University": ["Univ.", "Univ", "U."],
    "Universität": ["Univ.", "Uni"],
    "Université": ["Univ.", "Univ"],
    "Università": ["Univ."],
    "Universidad": ["Univ."],
    "Universitat": ["Univ."],
    "Universiteit": ["Univ."],
    "Institute": ["Inst.", "Inst"],
    "Institut": ["Inst."],
    "Technology": ["Tech.", "Technol."],
    "Technical": ["Tech."],
    "Technische": ["Techn.", "Tech."],
    "Department": ["Dept.", "Dep."],
    "Laboratory": ["Lab.", "Lab"],
    "Laboratoire": ["Lab.", "Labo"],
    "National": ["Natl.", "Nat."],
    "Hospital": ["Hosp."],
    "Sciences": ["Sci."],
    "Science": ["Sci."],
    "Research": ["Res."],
    "Center": ["Ctr."],
    "Centre": ["Ctr."],
    "Medical": ["Med."],
    "Medicine": ["Med."],
    "College": ["Coll."],
    "Polytechnic": ["Polytech."],
    "School": ["Sch."],
    "Faculty": ["Fac."],
    "Engineering": ["Eng.", "Engn."],
    "Chemistry": ["Chem."],
    "Physics": ["Phys."],
    "Mathematics": ["Math."],
    "Computer": ["Comput."],
    "Biology": ["Biol."],
    "Federal": ["Fed."],
    "Academy": ["Acad."],
    "Division": ["Div."],
    "Saint": ["St."],
}
STREETS = {
    "en": ["Main Street", "College Road", "University Avenue", "Park Road", "Science Drive", "Mill Lane"],
    "de": ["Arcisstraße", "Schellingstraße", "Gartenstraße", "Lindenallee", "Schlossplatz", "Leibnizweg"],
    "fr": ["rue Pierre et Marie Curie", "rue Saint-Jacques", "avenue Jean Jaurès", "boulevard Pasteur"],
    "it": ["Via Irnerio", "Via Roma", "Viale Garibaldi", "Piazza Verdi", "Via Marzolo"],
    "es": ["Calle Mayor", "Avenida de la Universidad", "Calle Serrano", "Avenida Diagonal"],
    "nl": ["Lorentzweg", "Kerkstraat", "Wilhelminalaan", "Leeuwenhoeklaan"],
    "sv": ["Kungsgatan", "Universitetsvägen", "Linnégatan", "Sölvegatan"],
    "JP": ["Hongo", "Ookayama", "Yoshida-honmachi", "Aoba", "Furo-cho"],
    "CN": ["Zhongguancun Road", "Haidian Road", "Handan Road", "Xueyuan Road"],
}
STREET_ABBREVIATIONS = {"Street": "St.", "Road": "Rd.", "Avenue": "Ave.", "Drive": "Dr.", "straße": "str."}
USERS = ["j.smith", "wang.li", "m.rossi", "k.tanaka", "anna.schmidt", "p.dupont", "lgarcia", "e.jansen"]
USERS += ["s.kumar", "h.mueller", "chen", "a.novak", "t.nguyen", "r.andersson", "mkim", "d.cohen"]


@dataclass
class Institution:
    names: list[str]  # English names, the usual one first
    native: list[str]  # names in the city's language
    acronyms: list[str]
    city: str
    kind: str
    domain: str
    street: str = ""
    postcode: str = ""
    units: list[tuple[str, int]] = field(default_factory=list)  # (unit type, field)


def _split(value: str) -> list[str]:
    return [v for v in value.split("|") if v]


def _catalogue() -> list[Institution]:
    """The real and serial institutions, in a fixed order."""
    out: list[Institution] = []
    for spec in REAL:
        english, local, short, place, kind, domain = spec.split(";")
        out.append(Institution(_split(english), _split(local), _split(short), place, kind, domain))
    for en, de, acronym, city in MAX_PLANCK:
        names = [f"Max Planck Institute for {en}", f"Max-Planck-Institute for {en}", f"MPI for {en}"]
        native = [f"Max-Planck-Institut für {de}", f"MPI für {de}"]
        out.append(Institution(names, native, [acronym], city, "i", f"{acronym.lower()}.mpg.de"))
    for en, de, acronym, city in FRAUNHOFER:
        names = [f"Fraunhofer Institute for {en} {acronym}", f"Fraunhofer Institute for {en}"]
        native = [f"Fraunhofer-Institut für {de} {acronym}", f"Fraunhofer-Institut für {de}"]
        out.append(Institution(names, native, [f"Fraunhofer {acronym}"], city, "i", "fraunhofer.de"))
    for en, acronym, city in CAS:
        head = f"Institute of {en}" if city == "Beijing" else f"{city} Institute of {en}"
        names = [
            f"{head}, Chinese Academy of Sciences",
            f"{head}, CAS",
            f"{head}, Chinese Academy of Science",
        ]
        out.append(Institution(names, [], [f"{acronym}, CAS", f"{acronym}-CAS"], city, "i", "cas.cn"))
    for n, own, acronym, city in PARIS:
        roman = ROMAN[n]
        names = [f"University of Paris {n}", f"University Paris {roman}", f"Paris {n} University"]
        native = [f"Université Paris {roman}", f"Université Paris {n}", f"Université {own}"]
        native.append(f"Université {own} (Paris {roman})")
        out.append(Institution(names, native, _split(acronym), city, "u", f"univ-paris{n}.fr"))
    return out


def _made_up(rng: np.random.Generator, taken: set[str]) -> list[Institution]:
    """Institutions shaped after a city's usual ones, in a random order."""
    out: list[Institution] = []
    for key, (spellings, country, _, _, lang, kinds) in CITIES.items():
        for kind in kinds:
            city = spellings[0]
            english, local = MADE_UP[kind]
            names = [e.format(c=city) for e in english]
            if country in MADE_UP_EN.get(kind, {}):
                names = [MADE_UP_EN[kind][country].format(c=city)]
            native_city = spellings[1] if lang != "en" and len(spellings) > 1 else city
            native = [v.format(c=native_city) for v in _split(local.get(lang, ""))] if lang != "en" else []
            if names[0].lower() in taken:
                continue
            taken.add(names[0].lower())
            slug = _ascii(city).lower().replace(" ", "").replace(".", "")
            label = {"u": "uni-", "h": "uk-" if lang == "de" else "hosp-", "a": "hs-" if lang == "de" else ""}
            domain = f"{label[kind]}{slug}.{TLD.get(country, country.lower())}"
            out.append(Institution(names, native, [], key, "u" if kind != "h" else "h", domain))
    return [out[int(i)] for i in rng.permutation(len(out))]


def _ascii(value: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", value) if not unicodedata.combining(c))


def _german_ascii(value: str) -> str:
    for a, b in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("Ä", "Ae"), ("Ö", "Oe"), ("Ü", "Ue"), ("ß", "ss")):
        value = value.replace(a, b)
    return _ascii(value)


def _postcode(country: str, prefix: str, rng: np.random.Generator) -> str:
    def digits(n: int) -> str:
        return "".join(str(int(d)) for d in rng.integers(0, 10, n))

    def letters(n: int) -> str:
        return "".join(_pick(rng, "ABDEFGHJLNPRSTUWXYZ") for _ in range(n))

    if country == "GB":
        return f"{prefix} {digits(1)}{letters(2)}"
    if country == "CA":
        return f"{prefix} {digits(1)}{letters(1)}{digits(1)}"
    if country == "NL":
        return f"{prefix}{digits(4 - len(prefix))} {letters(2)}"
    if country == "JP":
        return f"{prefix}-{digits(4)}"
    code = prefix + digits({"AT": 4, "CH": 4, "BE": 4, "CN": 6}.get(country, 5) - len(prefix))
    return f"{code[:3]} {code[3:]}" if country == "SE" else code


def _street(country: str, lang: str, rng: np.random.Generator) -> str:
    number = int(rng.integers(1, 300))
    if country == "JP":
        return f"{rng.integers(1, 9)}-{rng.integers(1, 30)}-{rng.integers(1, 20)} {_pick(rng, STREETS['JP'])}"
    if country == "CN":
        return f"No. {number} {_pick(rng, STREETS['CN'])}"
    name = _pick(rng, STREETS[lang])
    return f"{number} {name}" if lang in ("en", "fr") else f"{name} {number}"


def _setup(inst: Institution, size: int, rng: np.random.Generator) -> None:
    _, country, _, prefix, lang, _ = CITIES[inst.city]
    inst.street = _street(country, lang, rng)
    inst.postcode = _postcode(country, prefix, rng)
    fields = list(KIND_FIELDS[inst.kind])
    count = 1 + min(size // 6, 5)
    for i in rng.choice(len(fields), min(count, len(fields)), replace=False):
        inst.units.append((_pick(rng, KIND_UNITS[inst.kind]), fields[int(i)]))


def _abbreviate(text: str, rng: np.random.Generator) -> str:
    words = text.split(" ")
    return " ".join(
        _pick(rng, ABBREVIATIONS[w]) if w in ABBREVIATIONS and rng.random() < 0.7 else w for w in words
    )


def _name(inst: Institution, rng: np.random.Generator) -> tuple[str, bool]:
    """One spelling of the institution's name, and whether it is in the local language."""
    r = rng.random()
    if inst.acronyms and r < 0.14:
        acronym = _pick(rng, inst.acronyms)
        return (f"{inst.names[0]} ({acronym})" if rng.random() < 0.25 else acronym), False
    native = bool(inst.native) and r < 0.38
    if native:
        text = inst.native[0] if rng.random() < 0.6 else _pick(rng, inst.native)
    elif len(inst.names) > 1 and r < 0.55:
        text = _pick(rng, inst.names[1:])
    else:
        text = inst.names[0]
    if text.startswith("The ") and rng.random() < 0.5:
        text = text[4:]
    if rng.random() < 0.2:
        text = _abbreviate(text, rng)
    if ", " in text and rng.random() < 0.25:
        head, tail = text.split(", ", 1)
        text = f"{tail}, {head}"  # "Berkeley, University of California"
    elif rng.random() < 0.06:
        text = re.sub(r"^University of (\w+)$", r"\1 University", text)
    if rng.random() < 0.07:
        words = text.split(" ")
        long = [i for i, w in enumerate(words) if len(w) >= 5]
        if long:
            k = _pick(rng, long)
            words[k] = _typo(words[k], rng)
            text = " ".join(words)
    return text, native


def _unit(inst: Institution, native: bool, rng: np.random.Generator) -> str:
    weights = np.asarray([1.0 / (i + 1) for i in range(len(inst.units))])
    kind, f = inst.units[int(rng.choice(len(inst.units), p=weights / weights.sum()))]
    lang = CITIES[inst.city][4]
    if lang != "en" and (rng.random() < 0.85 if native else rng.random() < 0.12):
        i = LANGS.index(lang)
        name = FIELDS[f].split("|")[i]
        df = f"d'{name}" if _ascii(name)[:1] in "AEIOUH" else f"de {name}"
        text = UNITS[kind][1].split("|")[i - 1].format(f=name, df=df)
    else:
        text = _pick(rng, UNITS[kind][0]).format(f=FIELDS[f].split("|")[0])
    return _abbreviate(text, rng) if rng.random() < 0.25 else text


def _place(inst: Institution, native: bool, rng: np.random.Generator) -> str | None:
    spellings, country, region, _, _, _ = CITIES[inst.city]
    r = rng.random()
    if r < 0.22:
        return None
    if native and len(spellings) > 1 and rng.random() < 0.7:
        city = spellings[1]
    else:
        city = spellings[0] if rng.random() < 0.8 else _pick(rng, spellings)
    countries = COUNTRIES[country]
    nation = countries[0] if rng.random() < 0.6 else _pick(rng, countries)
    if region and rng.random() < 0.7:
        state = region if rng.random() < 0.75 else REGIONS[region]
        city = f"{city}, {state}"
    if r < 0.45:
        text = city
    elif r < 0.68:
        text = f"{city}, {nation}"
    else:
        code = inst.postcode
        if country in ("US", "CA"):
            text = f"{city} {code}"
        elif country in ("GB", "JP", "CN"):
            text = f"{city} {code}" if rng.random() < 0.8 else f"{city}, {code}"
        else:
            prefix = POSTAL_PREFIX.get(country, "") if rng.random() < 0.15 else ""
            text = f"{prefix}{code} {city}"
        if rng.random() < 0.75:
            text = f"{text}, {nation}"
        if r > 0.86:
            street = inst.street
            for long, short in STREET_ABBREVIATIONS.items():
                if long in street and rng.random() < 0.5:
                    street = street.replace(long, short)
            text = f"{street}, {text}"
    return text


def _affiliation(inst: Institution, others: list[Institution], rng: np.random.Generator) -> str:
    name, native = _name(inst, rng)
    unit = _unit(inst, native, rng) if rng.random() < (0.7 if inst.kind != "i" else 0.35) else None
    place = _place(inst, native, rng)
    parts = [unit, name, place] if rng.random() < 0.85 else [name, unit, place]
    text = ", ".join(p for p in parts if p)
    if any(ord(c) > 127 for c in text) and rng.random() < 0.3:
        german = CITIES[inst.city][4] == "de" and rng.random() < 0.5
        text = _german_ascii(text) if german else _ascii(text)
    if rng.random() < 0.05:
        nearby = [o for o in others if o.city == inst.city and o is not inst]
        other = _pick(rng, nearby) if nearby and rng.random() < 0.6 else _pick(rng, others)
        second = other.names[0] if not other.native or rng.random() < 0.6 else other.native[0]
        if other.city != inst.city or rng.random() < 0.5:
            second = f"{second}, {CITIES[other.city][0][0]}"
        text = f"{text}{' and ' if rng.random() < 0.7 else '; '}{second}"
    r = rng.random()
    if r < 0.05:
        mail = f"{_pick(rng, USERS)}@{inst.domain}"
        text += _pick(rng, [f". Electronic address: {mail}", f"; e-mail: {mail}", f" ({mail})", f", {mail}"])
    elif r < 0.08:
        text = f"{_pick(rng, ['1', '2', 'a', 'b', '*', '†'])} {text}"
    r = rng.random()
    if r < 0.03:
        text = text.upper()
    elif r < 0.07:
        text += "."
    return text


def generate_table(records: int = 2300, seed: int = 0, entities: int | None = None) -> pa.Table:
    """About ``records`` affiliations of about ``records // 7`` institutions (or ``entities``), the largest
    holding about 2% (~45 of 2,300). Columns: id, affiliation, and the truth in entity_id."""
    rng = np.random.default_rng(seed)
    sizes = entity_sizes(records, entities or max(1, records // 7), 0.015, rng)
    known = _catalogue()
    taken = {n.lower() for inst in known for n in inst.names + inst.native}
    institutions = (known + _made_up(rng, taken))[: len(sizes)]
    sizes = sizes[: len(institutions)]
    for inst, size in zip(institutions, sizes, strict=True):
        _setup(inst, size, rng)
    rows: dict[str, list[str | None]] = {"affiliation": [], "entity_id": []}
    for e, (inst, size) in enumerate(zip(institutions, sizes, strict=True)):
        for _ in range(size):
            rows["affiliation"].append(_affiliation(inst, institutions, rng))
            rows["entity_id"].append(f"a{e}")
    return shuffled_records(rows, rng)


def main() -> None:
    generator_main(__doc__ or "", generate_table, 2300)


if __name__ == "__main__":
    main()
