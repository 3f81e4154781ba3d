# -*- coding: utf-8 -*-
# snapshottest: v1 - https://goo.gl/zC4yUc
from __future__ import unicode_literals

from snapshottest import Snapshot


snapshots = Snapshot()

snapshots['test_golden_plain_text_prompts_per_stage text-answer'] = [
    {
        'content': "You are an expert tutor. Answer the student's question correctly and clearly in one short paragraph, then stop.",
        'role': 'system'
    },
    {
        'content': 'Why does a minor key sound different from the major key with the same tonic?',
        'role': 'user'
    },
    {
        'content': 'The two keys share their first note but not all their steps. In the minor scale the third, sixth and seventh notes lie a semitone lower than in the major scale, and the lowered third changes the tonic chord itself. That smaller interval above the tonic is what most listeners hear as the darker colour of the minor key.',
        'role': 'assistant'
    },
    {
        'content': 'Add the vectors (1, 2) and (3, -1).',
        'role': 'user'
    }
]

snapshots['test_golden_plain_text_prompts_per_stage text-question'] = [
    {
        'content': 'You are a teacher writing homework. Write exactly one self-contained question that a student can answer, and nothing else: no answer, no heading, no list of options.',
        'role': 'system'
    },
    {
        'content': 'Write one basic homework question for students of Music Theory (introductory level). The question tests these key concepts: key signature, accidentals.',
        'role': 'user'
    },
    {
        'content': 'How does a key signature tell a musician which notes to play sharp or flat, and when would a composer need an accidental to cancel it?',
        'role': 'assistant'
    },
    {
        'content': 'Write one challenging homework question for students of Classical Mechanics (introductory level). The question tests these key concepts: dot product, velocity, unit vectors, vector addition, acceleration.',
        'role': 'user'
    }
]

snapshots['test_golden_plain_text_prompts_per_stage text-subjects'] = [
    {
        'content': 'You are an education expert who writes course catalogues for schools, colleges and universities. Name each subject plainly, as a catalogue would.',
        'role': 'system'
    },
    {
        'content': 'List 4 subjects taught at the introductory level in the discipline of Music, one per line, numbered.',
        'role': 'user'
    },
    {
        'content': '''1. Music Theory
2. Ear Training
3. History of Western Music
4. Keyboard Skills''',
        'role': 'assistant'
    },
    {
        'content': 'List 3 subjects taught at the intermediate level in the discipline of Physics, one per line, numbered.',
        'role': 'user'
    }
]

snapshots['test_golden_plain_text_prompts_per_stage text-syllabus'] = [
    {
        'content': 'You are a teacher designing a course. Write its class sessions in teaching order, each followed by the key concepts it teaches.',
        'role': 'system'
    },
    {
        'content': 'Write the syllabus of the course Music Theory (introductory level): 3 class sessions, each with 3 key concepts.',
        'role': 'user'
    },
    {
        'content': '''Session 1: Notes and the staff
Key concepts: treble clef, bass clef, ledger lines
Session 2: Scales and keys
Key concepts: major scale, key signature, accidentals
Session 3: Chords
Key concepts: triads, chord inversions, cadences''',
        'role': 'assistant'
    },
    {
        'content': 'Write the syllabus of the course Classical Mechanics (introductory level): 4 class sessions, each with 3 key concepts.',
        'role': 'user'
    }
]

snapshots['test_golden_prompts_per_stage answer'] = [
    {
        'content': '''Your input fields are:
1. `question` (str): 
2. `language` (str):
Your output fields are:
1. `answer` (Answer):
All interactions will be structured in the following way, with the appropriate values filled in.

Inputs will have the following structure:

[[ ## question ## ]]
{question}

[[ ## language ## ]]
{language}

Outputs will be a JSON object with the following fields.

{
  "answer": "{answer}        # note: the value you produce must adhere to the JSON schema: {\\"type\\": \\"string\\", \\"minLength\\": 20, \\"title\\": \\"Answer\\"}"
}
In adhering to this structure, your objective is: 
        You are an expert tutor. Answer the homework question correctly and
        completely. Reason step by step where the question needs it, then state
        the final answer clearly.''',
        'role': 'system'
    },
    {
        'content': '''[[ ## question ## ]]
Add the vectors (1, 2) and (3, -1).

[[ ## language ## ]]
English

Respond with a JSON object in the following order of fields: `answer` (must be formatted as a valid Python Answer).''',
        'role': 'user'
    }
]

snapshots['test_golden_prompts_per_stage question'] = [
    {
        'content': '''Your input fields are:
1. `discipline` (str): 
2. `subject` (str): 
3. `level` (str): 
4. `syllabus` (str): the whole syllabus
5. `sessions` (list[str]): the sessions the question is about
6. `key_concepts` (list[str]): the concepts to exercise
7. `difficulty` (str): basic or challenging
8. `language` (str):
Your output fields are:
1. `question` (Question):
All interactions will be structured in the following way, with the appropriate values filled in.

Inputs will have the following structure:

[[ ## discipline ## ]]
{discipline}

[[ ## subject ## ]]
{subject}

[[ ## level ## ]]
{level}

[[ ## syllabus ## ]]
{syllabus}

[[ ## sessions ## ]]
{sessions}

[[ ## key_concepts ## ]]
{key_concepts}

[[ ## difficulty ## ]]
{difficulty}

[[ ## language ## ]]
{language}

Outputs will be a JSON object with the following fields.

{
  "question": "{question}        # note: the value you produce must adhere to the JSON schema: {\\"type\\": \\"string\\", \\"minLength\\": 20, \\"title\\": \\"Question\\"}"
}
In adhering to this structure, your objective is: 
        You are a teacher writing one homework question. The student has followed
        the syllabus below up to and including the given class sessions. Write a
        question that exercises the given key concepts. A basic question tests
        one session; a challenging question must combine the key concepts of both
        sessions. The question must be self-contained: include any data it needs.
        Write only the question, not its answer.''',
        'role': 'system'
    },
    {
        'content': '''[[ ## discipline ## ]]
Chemistry

[[ ## subject ## ]]
Organic Chemistry

[[ ## level ## ]]
intermediate

[[ ## syllabus ## ]]
Session 1: Vectors - Quantities with direction.
  Key concepts: vector addition; unit vectors; dot product
Session 2: Kinematics - Motion without its causes.
  Key concepts: velocity; acceleration

[[ ## sessions ## ]]
["Kinematics"]

[[ ## key_concepts ## ]]
["acceleration"]

[[ ## difficulty ## ]]
basic

[[ ## language ## ]]
English

Respond with a JSON object in the following order of fields: `question` (must be formatted as a valid Python Question).''',
        'role': 'user'
    }
]

snapshots['test_golden_prompts_per_stage subjects'] = [
    {
        'content': '''Your input fields are:
1. `discipline` (str): the discipline to cover
2. `levels` (list[str]): the levels a subject may have
3. `num_subjects` (int): how many subjects to list
4. `language` (str): the language to write in
Your output fields are:
1. `subjects` (Subjects):
All interactions will be structured in the following way, with the appropriate values filled in.

Inputs will have the following structure:

[[ ## discipline ## ]]
{discipline}

[[ ## levels ## ]]
{levels}

[[ ## num_subjects ## ]]
{num_subjects}

[[ ## language ## ]]
{language}

Outputs will be a JSON object with the following fields.

{
  "subjects": "{subjects}        # note: the value you produce must adhere to the JSON schema: {\\"type\\": \\"array\\", \\"$defs\\": {\\"SubjectsItem\\": {\\"type\\": \\"object\\", \\"properties\\": {\\"level\\": {\\"type\\": \\"string\\", \\"maxLength\\": 40, \\"minLength\\": 3, \\"title\\": \\"Level\\"}, \\"name\\": {\\"type\\": \\"string\\", \\"maxLength\\": 80, \\"minLength\\": 3, \\"title\\": \\"Name\\"}, \\"subtopics\\": {\\"type\\": \\"array\\", \\"items\\": {\\"type\\": \\"string\\", \\"maxLength\\": 80, \\"minLength\\": 3}, \\"maxItems\\": 6, \\"minItems\\": 1, \\"title\\": \\"Subtopics\\"}}, \\"required\\": [\\"name\\", \\"level\\", \\"subtopics\\"], \\"title\\": \\"SubjectsItem\\"}}, \\"items\\": {\\"$ref\\": \\"#/$defs/SubjectsItem\\"}, \\"maxItems\\": 10, \\"minItems\\": 1, \\"title\\": \\"Subjects\\"}"
}
In adhering to this structure, your objective is: 
        You are an education expert. List the subjects a student should learn to
        master the discipline below, as they are taught in schools, colleges and
        universities. For each subject give its level and its main subtopics.
        Name each subject plainly, as a course catalogue would.''',
        'role': 'system'
    },
    {
        'content': '''[[ ## discipline ## ]]
Physics

[[ ## levels ## ]]
["introductory", "intermediate", "advanced"]

[[ ## num_subjects ## ]]
3

[[ ## language ## ]]
English

Respond with a JSON object in the following order of fields: `subjects` (must be formatted as a valid Python Subjects).''',
        'role': 'user'
    }
]

snapshots['test_golden_prompts_per_stage syllabus'] = [
    {
        'content': '''Your input fields are:
1. `discipline` (str): 
2. `subject` (str): 
3. `level` (str): 
4. `subtopics` (list[str]): 
5. `num_sessions` (int): how many class sessions
6. `num_key_concepts` (int): key concepts per session
7. `language` (str):
Your output fields are:
1. `sessions` (Sessions):
All interactions will be structured in the following way, with the appropriate values filled in.

Inputs will have the following structure:

[[ ## discipline ## ]]
{discipline}

[[ ## subject ## ]]
{subject}

[[ ## level ## ]]
{level}

[[ ## subtopics ## ]]
{subtopics}

[[ ## num_sessions ## ]]
{num_sessions}

[[ ## num_key_concepts ## ]]
{num_key_concepts}

[[ ## language ## ]]
{language}

Outputs will be a JSON object with the following fields.

{
  "sessions": "{sessions}        # note: the value you produce must adhere to the JSON schema: {\\"type\\": \\"array\\", \\"$defs\\": {\\"SessionsItem\\": {\\"type\\": \\"object\\", \\"properties\\": {\\"description\\": {\\"type\\": \\"string\\", \\"maxLength\\": 400, \\"minLength\\": 10, \\"title\\": \\"Description\\"}, \\"key_concepts\\": {\\"type\\": \\"array\\", \\"items\\": {\\"type\\": \\"string\\", \\"maxLength\\": 80, \\"minLength\\": 3}, \\"maxItems\\": 8, \\"minItems\\": 1, \\"title\\": \\"Key Concepts\\"}, \\"name\\": {\\"type\\": \\"string\\", \\"maxLength\\": 100, \\"minLength\\": 3, \\"title\\": \\"Name\\"}}, \\"required\\": [\\"name\\", \\"description\\", \\"key_concepts\\"], \\"title\\": \\"SessionsItem\\"}}, \\"items\\": {\\"$ref\\": \\"#/$defs/SessionsItem\\"}, \\"maxItems\\": 30, \\"minItems\\": 1, \\"title\\": \\"Sessions\\"}"
}
In adhering to this structure, your objective is: 
        You are a teacher designing a course. Write the syllabus of the subject
        below for students at the given level: a sequence of class sessions, in
        teaching order, each with a short description and the key concepts it
        teaches. Together the sessions must cover the subtopics.''',
        'role': 'system'
    },
    {
        'content': '''[[ ## discipline ## ]]
Chemistry

[[ ## subject ## ]]
Organic Chemistry

[[ ## level ## ]]
intermediate

[[ ## subtopics ## ]]
["alkanes", "alkenes"]

[[ ## num_sessions ## ]]
6

[[ ## num_key_concepts ## ]]
4

[[ ## language ## ]]
English

Respond with a JSON object in the following order of fields: `sessions` (must be formatted as a valid Python Sessions).''',
        'role': 'user'
    }
]

snapshots['test_plan_of_the_science_taxonomy json'] = {
    'carried_over': 0,
    'cost': None,
    'estimated': True,
    'lm_calls': 36,
    'pending_review': None,
    'redraws': {
        'bound': 6,
        'calls_per_redraw': 2,
        'expected_calls': None,
        'last_rate': None
    },
    'stages': {
        'answer': {
            'cached': 0,
            'cost': None,
            'estimated': 12,
            'reasons': {
                'new': 12
            },
            'run': 0,
            'skipped': 0,
            'tokens': {
                'in': None,
                'out': None
            }
        },
        'question': {
            'cached': 0,
            'cost': None,
            'estimated': 12,
            'reasons': {
                'new': 12
            },
            'run': 0,
            'skipped': 0,
            'tokens': {
                'in': None,
                'out': None
            }
        },
        'subjects': {
            'cached': 0,
            'cost': None,
            'estimated': 0,
            'reasons': {
                'new': 6
            },
            'run': 6,
            'skipped': 0,
            'tokens': {
                'in': None,
                'out': None
            }
        },
        'syllabus': {
            'cached': 0,
            'cost': None,
            'estimated': 6,
            'reasons': {
                'new': 6
            },
            'run': 0,
            'skipped': 0,
            'tokens': {
                'in': None,
                'out': None
            }
        }
    },
    'taxonomy': 'science',
    'tokens': {
        'in': None,
        'out': None
    }
}

snapshots['test_plan_of_the_science_taxonomy text'] = '''stage        cached      run  estimated  skipped  reasons
subjects          -        6          -        -  new 6
syllabus          -        -         ~6        -  new 6
question          -        -        ~12        -  new 12
answer            -        -        ~12        -  new 12

model calls: ~36 (6 known now, ~30 estimated from the spec's counts; retries not counted)
tokens: unknown (no finished nodes of these stages in the store yet)
quality redraws: not counted above (2 calls each, up to 6 per row; no earlier build to estimate from)

will run:
  subjects  new               3d678b74a05f  Natural Sciences/Physics #0
  subjects  new               c8c5d39e6fb8  Natural Sciences/Physics #1
  subjects  new               c9ad8360be86  Natural Sciences/Chemistry #0
  subjects  new               36bba6b5885e  Natural Sciences/Chemistry #1
  subjects  new               b7eebc2af9ec  Natural Sciences/Biology #0
  subjects  new               154cb1d170d9  Natural Sciences/Biology #1
'''

snapshots['test_stub_build_and_diff_of_two_builds build README.md'] = '''---
pretty_name: tiny
license: unknown
task_categories:
- question-answering
- text-generation
size_categories:
- n<1K
tags:
- synthetic
- instruction-tuning
- glan
- glanc
language:
- en
configs:
- config_name: default
  data_files:
  - split: train
    path: data/**/*.jsonl
---

# tiny

**Made with glanc's stub model: placeholder text, not training data.**

9 question-answer pairs generated with glanc 0.2.0 by the GLAN method (Li et al. 2024): a taxonomy of disciplines is expanded into subjects, syllabi, homework questions and answers. Spec: `tiny.yaml`, template `glan-json`.

The rows are under `data/`, a file per discipline in a folder per field. Each line holds `messages` (the question as the user turn, the answer as the assistant turn), `taxonomy_path`, `discipline`, `subject`, `level`, `sessions`, `key_concepts`, `difficulty`, `models`, `stub` and the node `keys`.

## Counts

### By field

| field | rows |
| --- | ---: |
| Science | 9 |

### By discipline

| discipline | rows |
| --- | ---: |
| Science/Chemistry | 3 |
| Science/Physics | 6 |

### By level

| level | rows |
| --- | ---: |
| intermediate | 6 |
| introductory | 3 |

### By difficulty

| difficulty | rows |
| --- | ---: |
| basic | 3 |
| challenging | 6 |

## Models and decoding

| stage | model | decoding |
| --- | --- | --- |
| subjects | stub | max_tokens=1024, temperature=1.0, top_p=0.95 |
| syllabus | stub | max_tokens=2048, temperature=1.0, top_p=0.95 |
| question | stub | max_tokens=512, temperature=1.0, top_p=0.95 |
| answer | stub | max_tokens=1024, temperature=0.7, top_p=0.95 |

## Coverage

The rows ask about 70% of the key concepts their syllabi teach. Per discipline: that share, the share of challenging rows, and subject diversity (1 minus the largest word overlap of two subject names). Each discipline's share (`shares/`) has the figures per subject.

| discipline | key concepts | challenging | subject diversity |
| --- | --- | --- | --- |
| Science/Chemistry | 67% | 67% | 1.00 |
| Science/Physics | 72% | 67% | 0.50 |

## Tokens

Model calls behind this dataset: 23 nodes (subjects 2, syllabus 3, question 9, answer 9); tokens 6,113 in / 347 out.

## Rebuild

```console
glanc build tiny.yaml        # reuses the lock (lock/): no model call
glanc check tiny.yaml        # CI: the committed files are what spec and lock produce
```
'''

snapshots['test_stub_build_and_diff_of_two_builds build dataset.jsonl'] = '''{"difficulty": "challenging", "discipline": "Physics", "id": "0458999f1d2c8ad4", "key_concepts": ["stub key_concepts 3aa99b0c", "stub key_concepts 59a97f3b", "stub key_concepts 42576201"], "keys": {"answer": "777ebe18f036b0a727e7bcf81ede8b8062201a5a3b6c92be0f71fce73e9749d8", "question": "18c8a4bb9762639c88505a6998999be21569723be2bd34e9f45d8e139a6302e9", "syllabus": "df63b0b0bd6bdf1c90ac99358ba343abebbe0c2a42b6c0a8eab2d8614677d246"}, "level": "intermediate", "messages": [{"content": "stub question 9aacc2ed", "role": "user"}, {"content": "stub answer 48e5dbcc", "role": "assistant"}], "models": {"answer": "stub", "question": "stub"}, "sessions": ["stub name 2f04c308", "stub name 9d6abe17"], "stub": true, "subject": "stub name d2cd0214", "taxonomy_path": ["Science", "Physics"]}
{"difficulty": "challenging", "discipline": "Physics", "id": "0546a069a9fa5de9", "key_concepts": ["stub key_concepts 30e64a86", "stub key_concepts 70066a67", "stub key_concepts d14a391e", "stub key_concepts ab9e4065"], "keys": {"answer": "7f56420336184523385fbebad6cd2661615a186940c4c8a89b61c60a60f4b1ea", "question": "8baabf524a859d33d4666b053da44f7365a5ce913bb7c46cfcf8dfe6b6bd2bbd", "syllabus": "117e62d3dc22c300bdf6cd1b5c65c454344adfe6312fa7fd80407d0ff6b22e2d"}, "level": "introductory", "messages": [{"content": "stub question 56f2c966", "role": "user"}, {"content": "stub answer 58a88179", "role": "assistant"}], "models": {"answer": "stub", "question": "stub"}, "sessions": ["stub name f4f3d618", "stub name 22c27b10"], "stub": true, "subject": "stub name fb9992f0", "taxonomy_path": ["Science", "Physics"]}
{"difficulty": "basic", "discipline": "Physics", "id": "4b923af4837ecc81", "key_concepts": ["stub key_concepts 1bf17022", "stub key_concepts c153423c", "stub key_concepts c1a5e0f9"], "keys": {"answer": "9cb8f00e915274ec40a6dc37e6e61d2bb413048827b8c4cb6c0c67c372f6114c", "question": "7c23f64dae580a5bf3e78a49639389a32b501eeddf9eae7a346a1c0ec0e1cefe", "syllabus": "df63b0b0bd6bdf1c90ac99358ba343abebbe0c2a42b6c0a8eab2d8614677d246"}, "level": "intermediate", "messages": [{"content": "stub question a8929a91", "role": "user"}, {"content": "stub answer 00a76a75", "role": "assistant"}], "models": {"answer": "stub", "question": "stub"}, "sessions": ["stub name fbe8c002"], "stub": true, "subject": "stub name d2cd0214", "taxonomy_path": ["Science", "Physics"]}
{"difficulty": "challenging", "discipline": "Physics", "id": "51b68721f3a304d7", "key_concepts": ["stub key_concepts 70066a67", "stub key_concepts 6b7cd8c0"], "keys": {"answer": "1fee32f0582b3a79e9be5e38eae1ecf45856fe1abcbb0a95b20a36ecb0db2470", "question": "be67b6577779aba72f6703212d9dd2352813ddd30b74d7a6c77d71d9322fe306", "syllabus": "117e62d3dc22c300bdf6cd1b5c65c454344adfe6312fa7fd80407d0ff6b22e2d"}, "level": "introductory", "messages": [{"content": "stub question ab123e19", "role": "user"}, {"content": "stub answer 30fbac44", "role": "assistant"}], "models": {"answer": "stub", "question": "stub"}, "sessions": ["stub name 22c27b10", "stub name 86c11063"], "stub": true, "subject": "stub name fb9992f0", "taxonomy_path": ["Science", "Physics"]}
{"difficulty": "basic", "discipline": "Physics", "id": "558c2f1426171ee7", "key_concepts": ["stub key_concepts 09813467"], "keys": {"answer": "f37cc0c3ea966ca539f601cf9204f636ec802a4feb6224431684bf465ddfdbb1", "question": "4b6b48d8d735cd3203ce7803f77b5efabe4638cbfb25cd804d782837834ce2cf", "syllabus": "117e62d3dc22c300bdf6cd1b5c65c454344adfe6312fa7fd80407d0ff6b22e2d"}, "level": "introductory", "messages": [{"content": "stub question ee1100d4", "role": "user"}, {"content": "stub answer 15362360", "role": "assistant"}], "models": {"answer": "stub", "question": "stub"}, "sessions": ["stub name 86c11063"], "stub": true, "subject": "stub name fb9992f0", "taxonomy_path": ["Science", "Physics"]}
{"difficulty": "basic", "discipline": "Chemistry", "id": "7d8e3a5a3b9fc07e", "key_concepts": ["stub key_concepts e20e23a5", "stub key_concepts 41c6ef09"], "keys": {"answer": "343d5f20ac13ff332ad50f138f89a527f61682b9466debff2906fb79fc85a2cd", "question": "230b457c16c522c84921035769cfcb025e46e6b6cfabfc957f59a041d311d397", "syllabus": "de32ba305a1668d673a763568fb3736a5a8486d0b98faa38b03a8af0c2516311"}, "level": "intermediate", "messages": [{"content": "stub question 3af22fc3", "role": "user"}, {"content": "stub answer 68012218", "role": "assistant"}], "models": {"answer": "stub", "question": "stub"}, "sessions": ["stub name fdb5be8f"], "stub": true, "subject": "Organic Chemistry", "taxonomy_path": ["Science", "Chemistry"]}
{"difficulty": "challenging", "discipline": "Physics", "id": "93dcc87145d9d34f", "key_concepts": ["stub key_concepts 1bf17022", "stub key_concepts 6475624f"], "keys": {"answer": "6bf14bc63d17c56a32a051f232a9e443bdc8ae1ab4bd1d243c519af76416256f", "question": "3dd2c9bb660aec0f980155a9b57e36fcca27134ed1998aaa1b94b6c76c93ab66", "syllabus": "df63b0b0bd6bdf1c90ac99358ba343abebbe0c2a42b6c0a8eab2d8614677d246"}, "level": "intermediate", "messages": [{"content": "stub question 6d4f5a5a", "role": "user"}, {"content": "stub answer 1d425a37", "role": "assistant"}], "models": {"answer": "stub", "question": "stub"}, "sessions": ["stub name fbe8c002", "stub name 9d6abe17"], "stub": true, "subject": "stub name d2cd0214", "taxonomy_path": ["Science", "Physics"]}
{"difficulty": "challenging", "discipline": "Chemistry", "id": "ac4064e545a42172", "key_concepts": ["stub key_concepts 41c6ef09", "stub key_concepts 986118ab"], "keys": {"answer": "1c2281a7554fafb0baf8b42769bd26fd8478f1b2c3c83144159ce2d5b649ba02", "question": "d96ab22f30b8c0d67bdc2327cbcf404854692c87a5318668c3e540214ff3022a", "syllabus": "de32ba305a1668d673a763568fb3736a5a8486d0b98faa38b03a8af0c2516311"}, "level": "intermediate", "messages": [{"content": "stub question 624327df", "role": "user"}, {"content": "stub answer afdd60f7", "role": "assistant"}], "models": {"answer": "stub", "question": "stub"}, "sessions": ["stub name fdb5be8f", "stub name ee5616bb"], "stub": true, "subject": "Organic Chemistry", "taxonomy_path": ["Science", "Chemistry"]}
{"difficulty": "challenging", "discipline": "Chemistry", "id": "e1ba764758f2069d", "key_concepts": ["stub key_concepts a736a2f2", "stub key_concepts 8a717dc3", "stub key_concepts 41c6ef09", "stub key_concepts 6ddb7484"], "keys": {"answer": "02142eb4ed1deb3a9966c18f4727feea156902b58e2aa62c9e03d6b2270e97d0", "question": "b8038fbb0e5b76dc7a0b59c6a4ffd55813583f3a9f2819f2f5e469ca1cd1e031", "syllabus": "de32ba305a1668d673a763568fb3736a5a8486d0b98faa38b03a8af0c2516311"}, "level": "intermediate", "messages": [{"content": "stub question c84f7fb0", "role": "user"}, {"content": "stub answer 5c71964d", "role": "assistant"}], "models": {"answer": "stub", "question": "stub"}, "sessions": ["stub name fdb5be8f", "stub name ee5616bb"], "stub": true, "subject": "Organic Chemistry", "taxonomy_path": ["Science", "Chemistry"]}
'''

snapshots['test_stub_build_and_diff_of_two_builds build manifest.json'] = '''{
  "complete": true,
  "counts": {
    "disciplines": 2,
    "failed": {
      "answer": 0,
      "question": 0,
      "subjects": 0,
      "syllabus": 0
    },
    "nodes": {
      "answer": 9,
      "question": 9,
      "subjects": 2,
      "syllabus": 3
    },
    "skipped": {
      "answer": 0,
      "question": 0,
      "subjects": 0,
      "syllabus": 0
    }
  },
  "coverage": {
    "below": [],
    "disciplines": {
      "Science/Chemistry": {
        "challenging": 0.667,
        "diversity": 1.0,
        "key_concepts": 0.667
      },
      "Science/Physics": {
        "challenging": 0.667,
        "diversity": 0.5,
        "key_concepts": 0.722
      }
    },
    "floors": {},
    "key_concepts": 0.704
  },
  "files": {
    "data/science/chemistry.jsonl": {
      "lines": 3,
      "sha256": "2025f3eccea2d081a6cfd693bff5580eac0c3594689e8a6d96bae973e01b5f2a"
    },
    "data/science/physics.jsonl": {
      "lines": 6,
      "sha256": "6c0d6c144861a506e7c360072ad16a6f54f5dd53f316aa29f78267467603d363"
    },
    "lock/science/chemistry.jsonl": {
      "lines": 7,
      "sha256": "a136bf3c61260e904d518e17f69152764a22f970a495f8227d50deda598e425e"
    },
    "lock/science/physics.jsonl": {
      "lines": 16,
      "sha256": "245cb069472cabf54a8e9ac9f8f42f846a535bee76a0120c16fdaad6e0210748"
    },
    "shares/science/chemistry.json": {
      "lines": 119,
      "sha256": "69286e95bfb3e56746740688583db6534f2999b3ded9a1dd377c64199ddda376"
    },
    "shares/science/physics.json": {
      "lines": 149,
      "sha256": "f3e9e85f524cebc6d60cc1b3d3f64ccc71758ffcd231738a992c5ef0afad300b"
    }
  },
  "glanc_version": "0.2.0",
  "models": {
    "answer": [
      "stub"
    ],
    "question": [
      "stub"
    ],
    "subjects": [
      "stub"
    ],
    "syllabus": [
      "stub"
    ]
  },
  "rows": 9,
  "spec_digest": "e80e21e910598e8957318ff402d034ed8e606c56d2fc33f776be0761c3b82dbb",
  "taxonomy": "tiny",
  "template": "glan-json",
  "tokens": {
    "in": 6113,
    "out": 347
  },
  "usage": {
    "stub": {
      "nodes": 23,
      "stages": {
        "answer": {
          "nodes": 9,
          "tokens_in": 1359,
          "tokens_out": 36
        },
        "question": {
          "nodes": 9,
          "tokens_in": 3288,
          "tokens_out": 36
        },
        "subjects": {
          "nodes": 2,
          "tokens_in": 538,
          "tokens_out": 110
        },
        "syllabus": {
          "nodes": 3,
          "tokens_in": 928,
          "tokens_out": 165
        }
      },
      "tokens_in": 6113,
      "tokens_out": 347
    }
  }
}
'''

snapshots['test_stub_build_and_diff_of_two_builds diff markdown'] = '''### glanc diff: `old/tiny` → `new/tiny`

**9 → 15 rows: +6 added, −0 removed, ~9 changed**

| taxonomy path | added | removed | changed |
| --- | ---: | ---: | ---: |
| Science/Biology | 6 | 0 | 0 |
| Science/Chemistry | 0 | 0 | 3 |
| Science/Physics | 0 | 0 | 6 |

<details><summary>Science/Biology: samples</summary>

- **added** `92264417fd7e0d5a` *stub name 844c76d5*
  - Q: stub question de5388ad
  - A: stub answer de43516d

</details>

<details><summary>Science/Chemistry: samples</summary>

- **changed** (answer) `7d8e3a5a3b9fc07e` *Organic Chemistry*
  - Q: stub question 3af22fc3
  - A: stub answer 5e8e4123
  - was A: stub answer 68012218

</details>

<details><summary>Science/Physics: samples</summary>

- **changed** (answer) `0458999f1d2c8ad4` *stub name d2cd0214*
  - Q: stub question 9aacc2ed
  - A: stub answer 8afcaff6
  - was A: stub answer 48e5dbcc

</details>
'''
